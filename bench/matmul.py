"""Container overhead on CPU matmul: GFLOPS on the host vs inside the CI images (Podman and
Charliecloud), the seeds' scaling test run by `freight bench matmul`'s library.

    python bench/matmul.py [--sizes 2048,4096,8192] [--rounds 3] [--repeat 3] [--markdown]

Places run interleaved, round after round (host, podman, charliecloud, host, …), so a busy
neighbour on this shared 2-core machine hits every place alike; each figure is the best of
rounds x repeat multiplications (the least disturbed). The images have no numpy: the host's
manylinux numpy (with its own OpenBLAS) is bound in, so every place runs the same BLAS and
the ratio measures the container alone. Images come from `ci/containers.sh up`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ci_images import images  # noqa: E402

from freight.matmul import MatmulRequest, MatmulResult, overhead, run_matmul  # noqa: E402


def places() -> list[tuple[str, str | None, str | None]]:
    found = images()
    listed = [("host", None, None)]
    if found:
        listed.append(("podman", found["FREIGHT_CI_PODMAN_IMAGE"], "podman"))
        listed.append(("charliecloud", found["FREIGHT_CI_CH_SQFS"], "charliecloud"))
    return listed


def best(results: list[MatmulResult]) -> MatmulResult:
    """Per size, the fastest of the rounds."""
    rows = {}
    for result in results:
        for row in result.rows:
            if row.size not in rows or row.gflops > rows[row.size].gflops:
                rows[row.size] = row
    return replace(results[0], rows=[rows[size] for size in sorted(rows)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2048,4096,8192")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    request = MatmulRequest(sizes=[int(s) for s in args.sizes.split(",")], repeat=args.repeat)
    runs: dict[str, list[MatmulResult]] = {name: [] for name, _, _ in places()}
    for round_ in range(args.rounds):
        for name, image, engine in places():
            runs[name].append(run_matmul(replace(request, image=image, engine=engine)))
            print(f"round {round_ + 1} {name}: " + ", ".join(f"{r.size}: {r.gflops:.1f}" for r in runs[name][-1].rows),
                  file=sys.stderr, flush=True)
    report(runs, args)


def report(runs: dict[str, list[MatmulResult]], args) -> None:
    host = best(runs["host"])
    print(f"\nmachine: {platform.processor() or platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs, "
          f"{host.library}, float32, best of {args.rounds} rounds x {args.repeat} repeats\n")
    print("| place | size | memory MB | seconds | GFLOPS | ratio to host (best) | ratio (median of rounds) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, results in runs.items():
        top = best(results)
        ratios = overhead(host, top)
        medians = {size: statistics.median(overhead(h, r).get(size, float("nan")) for h, r in zip(runs["host"], results))
                   for size in ratios}
        for row in top.rows:
            print(f"| {name} | {row.size} | {row.memory_mb:.0f} | {row.seconds:.3f} | {row.gflops:.1f} | "
                  f"{ratios[row.size]:.3f} | {medians[row.size]:.3f} |")


if __name__ == "__main__":
    main()
