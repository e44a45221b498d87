"""Images freight builds, measured on this machine with real engines (no registry: the base is
the CI image `bash ci/containers.sh up` makes, localhost/freight-ci/bookworm-py:latest).

1. size: freight's multi-stage image of a project with a compiled dependency (psycopg2: an
   sdist on Linux, built with gcc and libpq-dev) vs a naive single-stage build of the same
   locked requirements on the same base with the same packages (bench/templates/
   naive.Dockerfile.j2): the compilers stay in the naive image. Goal: >= 2x smaller.
2. second build of the unchanged project: `freight image build` (the whole CLI: interpreter,
   plan, the engine's "is it there?") and build_image() alone; the engine calls counted.
   Goal: < 1 s, nothing rebuilt.
3. task start latency: `python3 -c pass` bare on the host vs inside ch-run and podman run, with
   the command lines freight's task wrapper uses (engines/), median of --repeat runs.

Run: `.venv/bin/python bench/images.py [--engine podman] [--repeat 7] [--markdown]`
(root, with ci/containers.sh up; the first run builds two images, a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jinja2
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
BASE = "localhost/freight-ci/bookworm-py:latest"
PROJECT = {"main.py": "import psycopg2\nprint('psycopg2', psycopg2.__version__)\n"}
NAIVE_TAG = "localhost/freight-bench/naive-psycopg2:latest"
console = Console(stderr=True)


def make_project(root: Path) -> Path:
    for name, text in PROJECT.items():
        (root / name).write_text(text)
    return root


def image_size(engine: str, ref: str) -> int:
    done = subprocess.run([engine, "image", "inspect", "--format", "{{.Size}}", ref],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def build_freight(project: Path, engine: str):
    from freight.image.build import build_image
    from freight.image.plan import make_plan

    plan = make_plan(project, base=BASE)
    with console.status(f"freight build with {engine}"):
        return plan, build_image(plan, engine)


def build_naive(plan, engine: str) -> str:
    """The same inputs, one stage, built with the engine's own command."""
    from freight.image.render import write_context

    template = jinja2.Template((HERE / "templates" / "naive.Dockerfile.j2").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        context = Path(scratch) / "ctx"
        write_context(plan, context, "docker")  # uv + the locked requirements
        (context / "Dockerfile").write_text(template.render(
            base=BASE, packages=sorted({*plan.build_packages, *plan.system_packages}),
            requirements_file=plan.requirements_file))
        with console.status(f"naive single-stage build with {engine}"):
            subprocess.run([engine, "build", "-q", "-t", NAIVE_TAG, str(context)], check=True,
                           capture_output=True, text=True)
    return NAIVE_TAG


def check_runs(engine: str, ref: str) -> str:
    done = subprocess.run([engine, "run", "--rm", ref, "python3", "-c", "import psycopg2; print(psycopg2.__version__)"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def second_build(project: Path, engine: str, repeat: int) -> dict:
    """Median seconds of `freight image build` (CLI) and build_image() on the unchanged project,
    and the engine commands the CLI ran (counted through a PATH shim)."""
    from freight.image.build import build_image
    from freight.image.plan import make_plan

    counter = Path(tempfile.mkdtemp()) / "calls.log"
    shim = counter.parent / engine
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{counter}"\nexec {shutil.which(engine)} "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{counter.parent}{os.pathsep}{os.environ['PATH']}"}
    cli = [sys.executable, "-m", "freight", "image", "build", str(project), "--engine", engine, "--base", BASE]
    cli_times, outputs = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cli, capture_output=True, text=True, env=env, check=True)
        cli_times.append(time.perf_counter() - start)
        outputs.append(done.stderr)
    lib_times, rebuilt = [], False
    for _ in range(repeat):
        start = time.perf_counter()
        built = build_image(make_plan(project, base=BASE), engine)
        lib_times.append(time.perf_counter() - start)
        rebuilt |= built.built
    calls = counter.read_text().splitlines() if counter.exists() else []
    return {"cli": statistics.median(cli_times), "library": statistics.median(lib_times),
            "rebuilt": rebuilt or any("nothing to build" not in o for o in outputs),
            "calls": sorted(set(calls)), "builds": sum(1 for c in calls if c.startswith("build"))}


def start_latency(repeat: int) -> dict[str, float]:
    """Median seconds to run `python3 -c pass`: bare, in ch-run, in podman run (freight's argv)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from ci_images import images

    from freight.engines import get_engine
    from freight.engines.wrap import engine_env

    found = images()
    work = tempfile.mkdtemp()
    program = ["python3", "-c", "pass"]
    commands = {"bare process": ["/usr/bin/python3", "-c", "pass"]}
    for name, image in (("ch-run", found["FREIGHT_CI_CH_DIR"]), ("podman run", found["FREIGHT_CI_PODMAN_IMAGE"])):
        engine = get_engine("charliecloud" if name == "ch-run" else "podman")
        commands[name] = engine.exec_argv(image, program, mounts=[work], env={"FREIGHT_TASK_INDEX": "0"}, workdir=work)
    env = engine_env(dict(os.environ))
    medians = {}
    for name, argv in commands.items():
        subprocess.run(argv, check=True, env=env, capture_output=True)  # warm the page cache
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(argv, check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - start)
        medians[name] = statistics.median(times)
    return medians


def report(sizes: dict, second: dict, latency: dict, markdown: bool) -> None:
    mb = 1024 * 1024
    ratio = sizes["naive"] / sizes["freight"]
    rows = [
        ("1. image size, psycopg2 project", f"freight multi-stage {sizes['freight'] / mb:.0f} MB",
         f"naive single-stage {sizes['naive'] / mb:.0f} MB", f"{ratio:.2f}x smaller", "≥ 2x",
         "met" if ratio >= 2 else "missed"),
        ("2. second build, unchanged", f"freight image build {second['cli']:.2f} s",
         f"build_image() {second['library']:.3f} s",
         f"{second['builds']} builds; engine calls: {', '.join(c.split()[0] + ' ' + c.split()[1] for c in second['calls']) or 'none'}",
         "< 1 s, nothing rebuilt", "met" if second["cli"] < 1 and not second["rebuilt"] and not second["builds"] else "missed"),
    ]
    bare = latency["bare process"]
    for name in ("ch-run", "podman run"):
        rows.append((f"3. task start, {name}", f"{latency[name] * 1000:.0f} ms", f"bare {bare * 1000:.0f} ms",
                     f"+{(latency[name] - bare) * 1000:.0f} ms ({latency[name] / bare:.1f}x)", "", ""))
    headers = ("measure", "freight", "compared with", "ratio", "goal", "")
    if markdown:
        print("| " + " | ".join(headers) + " |\n|" + "---|" * len(headers))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    table = Table(*headers, title="freight images (bench/images.py)")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="podman", choices=["podman", "docker"])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = make_project(Path(scratch))
        plan, built = build_freight(project, args.engine)
        naive = build_naive(plan, args.engine)
        versions = {check_runs(args.engine, built.ref), check_runs(args.engine, naive)}
        assert len(versions) == 1, f"the two images disagree: {versions}"
        sizes = {"freight": image_size(args.engine, built.ref), "naive": image_size(args.engine, naive)}
        second = second_build(project, args.engine, args.repeat)
    latency = start_latency(args.repeat)
    report(sizes, second, latency, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
