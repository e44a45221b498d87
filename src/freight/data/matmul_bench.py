"""Matrix-multiplication scaling test (the TACC seed's pytorch_matmul_scaling_test.py, redone).

Runs as is on the host, inside any image with python3 (numpy for the CPU, torch for a GPU), or
as a freight job: stdlib + numpy/torch only, never freight itself. Prints one JSON line per
size, {"size", "memory_mb", "seconds", "gflops", ...}; as a freight task it also reports the
lists through freight.report, so `freight results` shows them.

    python3 matmul_bench.py --sizes 2048,4096 [--repeat 3] [--gpu]

float32 like the seed; the time is the best of --repeat multiplications after one warm-up,
so a busy neighbour or a first-touch page fault does not count; GFLOPS = 2 n^3 / seconds.
Exit 3 with one line on stderr when the library or the GPU is missing.
"""

import argparse
import json
import os
import sys
import time


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2048,4096,8192")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gpu", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    bench = torch_bench() if args.gpu else numpy_bench()
    rows = [measure(bench, size, args.repeat) for size in sizes]
    for row in rows:
        print(json.dumps(row), flush=True)
    report(rows)
    return 0


def fail(message):
    sys.stderr.write(f"matmul_bench: {message}\n")
    sys.exit(3)


def numpy_bench():
    try:
        import numpy
    except ImportError:
        fail(f"numpy is not installed for {sys.executable} (Python {sys.version.split()[0]})")
    rng = numpy.random.default_rng(0)

    def multiply(size):
        a = rng.random((size, size), dtype=numpy.float32)
        b = rng.random((size, size), dtype=numpy.float32)
        return lambda: numpy.matmul(a, b)

    return {"library": f"numpy {numpy.__version__}", "device": "cpu", "multiply": multiply, "sync": lambda: None}


def torch_bench():
    try:
        import torch
    except ImportError:
        fail(f"--gpu needs torch, which is not installed for {sys.executable}")
    if not torch.cuda.is_available():
        fail(f"--gpu: torch {torch.__version__} sees no CUDA GPU here")

    def multiply(size):
        a = torch.rand(size, size, device="cuda")
        b = torch.rand(size, size, device="cuda")
        return lambda: torch.matmul(a, b)

    device = f"cuda ({torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda})"
    return {"library": f"torch {torch.__version__}", "device": device, "multiply": multiply,
            "sync": torch.cuda.synchronize}


def measure(bench, size, repeat):
    run = bench["multiply"](size)
    run()  # warm-up: BLAS threads started, pages touched, GPU kernels chosen
    bench["sync"]()
    best = float("inf")
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        run()
        bench["sync"]()
        best = min(best, time.perf_counter() - start)
    return {"size": size, "memory_mb": round(3 * size * size * 4 / 1e6, 1), "seconds": best,
            "gflops": 2 * size**3 / best / 1e9, "library": bench["library"], "device": bench["device"]}


def report(rows):
    """As a freight task, the lists go into result.json (the shim makes freight importable)."""
    if not os.environ.get("FREIGHT_TASK_DIR"):
        return
    try:
        from freight import report as freight_report
    except ImportError:
        return
    keys = ("size", "memory_mb", "seconds", "gflops")
    freight_report({key: [row[key] for row in rows] for key in keys},
                   library=rows[0]["library"] if rows else "", device=rows[0]["device"] if rows else "")


if __name__ == "__main__":
    sys.exit(main())
