"""Matrix-multiplication scaling test: GFLOPS per matrix size, as a table and a plot.

The seed tutorial's `pytorch_matmul_scaling_test.py`, made to run anywhere: numpy on the CPU,
torch on a GPU when one is present (`torch.cuda.is_available()`), or whichever `--device` says.

    python matmul.py                       # sizes 2048, 4096, 8192
    python matmul.py --sizes 256,512 --repeats 5 --device cpu

Each size multiplies two random n x n matrices `--repeats` times (after one warm-up product)
and keeps the fastest time; GFLOPS = 2 n^3 / seconds / 1e9. Under freight every task reports
with `freight.report`: for one size `gflops`, `seconds` and `memory_mb`; for several, `gflops`
(the best) and `gflops_<n>` per size. It saves `scaling_plot.png` in its task folder
($FREIGHT_TASK_DIR; without freight: here).
On the CPU, numpy uses as many threads as OMP_NUM_THREADS allows (freight sets it from --cpus).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:
    from freight import report
except ImportError:  # freight is optional: the script runs the same without it

    def report(**metrics):
        return metrics


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers separated by commas: {text!r}")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("give at least one positive size")
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[2048, 4096, 8192],
                        help="comma-separated matrix sizes (default 2048,4096,8192)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed products per size; the fastest counts (default 3)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: a CUDA GPU through torch when present, else numpy on the CPU")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--plot", type=Path,
                        help="where to save the plot (default: scaling_plot.png)")
    return parser.parse_args(argv)


def cuda_torch():
    """torch when it can use a CUDA GPU here, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def numpy_product(n: int, dtype: str) -> Callable[[], float]:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))

    def run() -> float:
        start = time.perf_counter()
        np.matmul(a, b)
        return time.perf_counter() - start

    return run


def torch_product(torch, n: int, dtype: str) -> Callable[[], float]:
    a, b = (torch.randn(n, n, device="cuda", dtype=getattr(torch, dtype)) for _ in range(2))

    def run() -> float:
        torch.cuda.synchronize()
        start = time.perf_counter()
        torch.matmul(a, b)
        torch.cuda.synchronize()  # kernels are asynchronous: wait before reading the clock
        return time.perf_counter() - start

    return run


def measure(product: Callable[[], float], repeats: int) -> float:
    product()  # warm-up: first-call costs (allocation, kernel selection) are not the speed
    return min(product() for _ in range(max(1, repeats)))


def describe_device(device: str, torch) -> str:
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        return f"cuda: {props.name}, {props.total_memory / 1e9:.1f} GB (torch {torch.__version__})"
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return f"cpu: numpy {np.__version__}, OMP_NUM_THREADS={threads}"


def choose_device(wanted: str):
    """The device to use and torch (or None); asking for cuda without one is an error."""
    torch = cuda_torch() if wanted in ("auto", "cuda") else None
    if wanted == "cuda" and torch is None:
        sys.exit("matmul.py: --device cuda, but torch with a CUDA GPU is not available here")
    return ("cuda" if torch else "cpu"), torch


def run_sizes(args: argparse.Namespace, device: str, torch) -> list[dict]:
    rows = []
    for n in args.sizes:
        product = torch_product(torch, n, args.dtype) if torch else numpy_product(n, args.dtype)
        seconds = measure(product, args.repeats)
        memory_mb = 3 * n * n * np.dtype(args.dtype).itemsize / 1e6  # a, b and the result
        rows.append({"size": n, "memory_mb": memory_mb, "seconds": seconds,
                     "gflops": 2 * n**3 / seconds / 1e9})
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'size':>12} {'memory MB':>10} {'seconds':>10} {'GFLOPS':>10}")
    for row in rows:
        size = f"{row['size']}x{row['size']}"
        seconds, gflops = row["seconds"], row["gflops"]
        print(f"{size:>12} {row['memory_mb']:>10.2f} {seconds:>10.5f} {gflops:>10.2f}")


def save_plot(path: Path, rows: list[dict], device: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on a cluster node
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["size"] for r in rows], [r["gflops"] for r in rows], "o-")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="matrix size n (n x n)", ylabel="GFLOPS", title=f"matmul scaling ({device})")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"scaling plot saved to {path}")


def metrics(rows: list[dict], device: str) -> dict:
    """What a task reports: one size (a sweep over --sizes) keeps the results table narrow."""
    if len(rows) == 1:
        row = rows[0]
        return {"gflops": row["gflops"], "seconds": row["seconds"], "memory_mb": row["memory_mb"],
                "device": device}
    per_size = {f"gflops_{row['size']}": row["gflops"] for row in rows}
    return {"gflops": max(row["gflops"] for row in rows), "device": device, **per_size}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device, torch = choose_device(args.device)
    print(f"matrix multiplication scaling test on {describe_device(device, torch)}")
    rows = run_sizes(args, device, torch)
    print_table(rows)
    report(**metrics(rows, device))
    out_dir = Path(os.environ.get("FREIGHT_TASK_DIR") or ".")
    save_plot(args.plot or out_dir / "scaling_plot.png", rows, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
