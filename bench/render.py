"""Rendering a 10,000-task sweep for every target freight has, and validating what it rendered.

For each registered target (freight.sched.TARGETS) the same job (10,000 rows, 2 CPUs, 4 GB,
1 GPU, 1 h; an image where the target needs one) is rendered as `freight script` would, for a
draft run (in memory: no run folder, no store), then checked by the strongest checker this
machine has for that target's files:

- shell scripts (*.sh, *.sbatch, local.sh …): shellcheck, all of one target's in one call
- Kubernetes manifests (*.yaml): kubernetes-validate against the 1.33 API schemas, strict
- HTCondor submit descriptions (*.sub): the htcondor bindings' own htcondor.Submit parser

**render** and **validate** are the median seconds of --repeat rounds (goal: each under 1 s).
**peak 1k / 10k** is tracemalloc's peak while rendering 1,000 and 10,000 rows: the same figure
for both means the rendered files do not grow with the sweep (the scheduler takes a parameter
file or an index range, not one line per task).

Run: `.venv/bin/python bench/render.py [--rows 10000] [--repeat 3] [--only pbs,lsf]`
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from rich.console import Console
from rich.table import Table

from freight.errors import FreightError
from freight.runs.preview import draft_run
from freight.sched import TARGETS, get_target
from freight.spec.job import Container, Job, Task
from freight.spec.resources import Resources

# What each target needs to render at all (its [targets.NAME] settings, an image).
OPTIONS = {
    "pbs": {"flavor": "pro", "queue": "gpu"},
    "lsf": {"queue": "gpu"},
    "kubernetes": {"pvc": "lab-data"},
    "basecommand": {"ace": "nv-us-west-2", "workspace": "code", "instances": {"1": "dgx1v.32g.1.norm"}},
}
NEEDS_IMAGE = {"kubernetes": "ghcr.io/lab/train:1.0", "basecommand": "nvcr.io/lab/team/train:1.0",
               "htcondor": "docker://ghcr.io/lab/train:1.0"}
K8S_VERSION = "1.33.0"


def make_job(target: str, rows: int, workdir: Path) -> Job:
    image = NEEDS_IMAGE.get(target)
    return Job(name="sweep", command=["python", "train.py", "--lr", "{lr}"], workdir=str(workdir),
               tasks=[Task(index=i, params={"lr": i / rows}) for i in range(rows)],
               resources=Resources(cpus=2, mem_mb=4096, gpus=1 if target != "local" else 0, time_s=3600),
               container=Container(image=image) if image else None, target_options=OPTIONS.get(target, {}))


def render(target_name: str, job: Job, home: Path) -> dict[str, str]:
    """What `freight script` does: the target's files for a draft run of every row."""
    run = draft_run(job, target_name, home, run_id="bench-1")
    return get_target(target_name).render(run, [task.index for task in job.tasks])


def peak_bytes(target_name: str, job: Job, home: Path) -> int:
    """Peak of what the target's render allocates; the job, the draft run and the list of rows
    (its input, built by freight before any target runs) are made before tracing starts."""
    target, run = get_target(target_name), draft_run(job, target_name, home, run_id="bench-1")
    indices = [task.index for task in job.tasks]
    target.render(run, indices[:2])  # imports and template compilation: not per row
    tracemalloc.start()
    try:
        target.render(run, indices)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def validate(files: dict[str, str], folder: Path) -> str:
    """Check every file with the strongest checker here; the checkers used, or what failed."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    used = []
    scripts = [name for name, text in files.items() if text.startswith("#!") and "sh" in text.split("\n", 1)[0]]
    for name, text in files.items():
        (folder / name).write_text(text)
    if scripts and shutil.which("shellcheck"):
        done = subprocess.run(["shellcheck", "-S", "warning", *(str(folder / n) for n in scripts)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"shellcheck: {done.stdout[:300]}")
        used.append(f"shellcheck ×{len(scripts)}")
    used += _validate_manifests(files) + _validate_submit_files(files)
    return ", ".join(used) or "—"


def _validate_manifests(files: dict[str, str]) -> list[str]:
    manifests = [text for name, text in files.items() if name.endswith(".yaml")]
    if not manifests:
        return []
    import kubernetes_validate
    import yaml

    for text in manifests:
        kubernetes_validate.validate(yaml.safe_load(text), K8S_VERSION, strict=True)
    return [f"kubernetes-validate ×{len(manifests)}"]


def _validate_submit_files(files: dict[str, str]) -> list[str]:
    submits = [text for name, text in files.items() if name.endswith(".sub")]
    if not submits:
        return []
    import htcondor

    for text in submits:
        htcondor.Submit(text)
    return [f"htcondor.Submit ×{len(submits)}"]


def timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(target: str, rows: int, repeat: int, work: Path) -> dict:
    home = work / target / ".freight"
    job, small = make_job(target, rows, work), make_job(target, max(rows // 10, 1), work)
    try:
        seconds, files = timed(lambda: render(target, job, home), repeat)
        check_s, checked = timed(lambda: validate(files, work / target / "files"), 1)
        return {"target": target, "files": len(files), "bytes": sum(len(t) for t in files.values()),
                "render_s": seconds, "validate_s": check_s, "checked": checked,
                "peak_small": peak_bytes(target, small, home), "peak": peak_bytes(target, job, home)}
    except (FreightError, RuntimeError, ValueError, ImportError) as exc:
        return {"target": target, "error": str(exc).splitlines()[0][:120]}


def table(results: list[dict], rows: int) -> Table:
    out = Table(title=f"Rendering and validating a {rows:,}-task sweep")
    for column in ("target", "files", "size", "render s", "validate s", "validated by",
                   f"peak {rows // 10:,}", f"peak {rows:,}"):
        out.add_column(column, justify="left" if column in ("target", "validated by") else "right")
    for r in results:
        if "error" in r:
            out.add_row(r["target"], "", "", "", "", f"[red]{r['error']}[/]", "", "")
            continue
        out.add_row(r["target"], str(r["files"]), f"{r['bytes'] / 1024:.0f} KB", f"{r['render_s']:.3f}",
                    f"{r['validate_s']:.3f}", r["checked"], f"{r['peak_small'] / 1024:.0f} KB",
                    f"{r['peak'] / 1024:.0f} KB")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated target names")
    args = parser.parse_args(argv)
    names = [n for n in TARGETS if not args.only or n in args.only.split(",")]
    with tempfile.TemporaryDirectory(prefix="freight-bench-render-") as folder:
        work = Path(folder)
        (work / "train.py").write_text("print('hi')\n")
        results = [measure(name, args.rows, args.repeat, work) for name in names]
    Console(width=150).print(table(results, args.rows))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
