"""`freight bench matmul`: the seeds' matrix-multiplication scaling test (freight/matmul.py), on
this machine, inside an image (with the image/host ratio: the container's overhead), or as a
freight job on any target."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from freight.cli.app import app, err, out, print_json

bench_app = typer.Typer(help="Measurements: how fast this machine, an image or a target runs.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("matmul")
def matmul(
    sizes: str = typer.Option("2048,4096,8192", "--sizes", help="Matrix sizes n (n x n, float32), comma-separated."),
    image: str = typer.Option(None, "--image", help="Also run inside this image; the ratio is the container's overhead."),
    engine: str = typer.Option(None, "--engine", help="The container engine for --image (default: the first that fits)."),
    gpu: bool = typer.Option(False, "--gpu", help="Multiply on the GPU with torch (CUDA) instead of numpy on the CPU."),
    target: str = typer.Option(None, "--target", help="Run it as a freight job there (slurm, sge, local, ...)."),
    repeat: int = typer.Option(3, "--repeat", min=1, help="Multiplications per size; the fastest counts."),
    threads: int = typer.Option(None, "--threads", min=1, help="BLAS threads (default: the CPUs this process may use)."),
    plot_path: Path = typer.Option(None, "--plot", help="Write a GFLOPS-vs-size plot (PNG) here."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """GFLOPS of an n x n matrix multiplication for each size, like the TACC seed's scaling test."""
    from freight.matmul import MatmulRequest, check_request, overhead, plot, run_matmul, submit_matmul

    request = MatmulRequest(sizes=parse_sizes(sizes), repeat=repeat, gpu=gpu, threads=threads, engine=engine)
    check_request(replace(request, image=image), target)
    if plot_path:  # said before the measurement, which takes a while
        from freight.runs.results import check_plot_path

        check_plot_path(plot_path)
    if target:
        results = [submit_matmul(replace(request, image=image), target, Path.cwd())]
    else:
        results = [run_matmul(request)]
        if image:
            results.append(run_matmul(replace(request, image=image)))
    ratios = overhead(results[0], results[1]) if len(results) == 2 else {}
    if plot_path:
        err.print(f"plot written to {plot(results, plot_path)}", markup=False, highlight=False)
    if as_json:
        print_json(json.dumps({"results": [r.as_dict() for r in results],
                               "overhead": {str(size): ratio for size, ratio in ratios.items()}}))
        return
    for result in results:
        out.print(results_table(result, ratios if result is not results[0] else {}))
        for note in result.notes:
            err.print(f"note: {note}", markup=False, highlight=False)


def parse_sizes(text: str) -> list[int]:
    from freight.errors import ConfigError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--sizes {text!r} is not a list of whole numbers", fix="e.g. --sizes 2048,4096,8192") from None


def results_table(result, ratios: dict[int, float]) -> Table:
    title = f"{result.where}: {result.library} on {result.device}"
    columns = ["size", "memory MB", "seconds", "GFLOPS"] + (["vs host"] if ratios else [])
    table = Table(title=title, box=None, pad_edge=False, title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column == "size" else "right")
    for row in result.rows:
        cells = [f"{row.size}x{row.size}", f"{row.memory_mb:.1f}", f"{row.seconds:.4g}", f"{row.gflops:.1f}"]
        if ratios:
            cells.append(f"{ratios[row.size]:.3f}" if row.size in ratios else "")
        table.add_row(*map(Text, cells))
    return table
