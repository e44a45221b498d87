"""Environments, second run: how long before a task's program starts when nothing changed.

The issue's goal: the second `freight run --env venv` of an unchanged project starts its first
task in under 1 s and rebuilds no environment. Measured three ways, side by side:

1. `prepare_environment(requirements, "venv")` in this process: the first call (an empty
   freight cache; uv's own cache as it is, and once more with an empty uv cache too) against
   the second call (cached lock and environment: no resolver, no subprocess).
2. A new process that imports freight, calls prepare_environment and execs the probe in the
   venv: the environment step as `freight run` pays it, in a process of its own. The probe
   writes time.time() as its first statement, so each end-to-end row is the time from
   launching a command to the program's first line (interpreter starts included).
   Then `freight run --env venv probe.py STAMP` itself, when this freight has `run`.
3. By hand, as a user without freight does it each time: `python -m venv D`,
   `D/bin/pip install -r requirements.txt`, `D/bin/python probe.py STAMP`, to the same first
   line. A last row runs the probe in a venv kept from before: the floor nobody can beat.

Everything runs in a fresh temporary folder with its own $FREIGHT_CACHE_DIR; pip and uv use
this machine's index settings (freight hands pip's mirrors to uv, see engines/index.py).

Run: `python bench/venv.py [--requirements numpy,six] [--repeats 3] [--markdown]`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from freight.engines import prepare_environment

console = Console(width=None if sys.stdout.isatty() else 150)
# The probe stamps the time first, then imports the requirements (so `freight deps` finds them).
PROBE = (
    "import sys, time\nstarted = time.time()\n"
    "open(sys.argv[1], 'w').write(f'{started!r} {sys.prefix}')\n"
)


@dataclass
class Row:
    how: str
    first: float | None  # seconds, first run
    second: float | None  # seconds, second run (median of the repeats)
    note: str = ""
    end_to_end: bool = True  # from launching a command to the program's first line


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


@dataclass
class Project:
    """The temporary project folder: probe.py, its stamp file, and the environment to run in."""

    root: Path
    env: dict[str, str]
    prefix: str = ""  # sys.prefix of the last probe: which environment ran it

    @property
    def stamp(self) -> Path:
        return self.root / "stamp"

    def to_program_start(self, *steps: list[str]) -> float:
        """Seconds from launching the first step to the probe's first line (the last step)."""
        self.stamp.unlink(missing_ok=True)
        launched = time.time()
        for argv in steps:
            subprocess.run(argv, cwd=self.root, env=self.env, check=True, capture_output=True)
        started, self.prefix = self.stamp.read_text().split(" ", 1)
        return float(started) - launched

    def ran_in_venv_of(self, cache: Path) -> str:
        """'' when the last probe ran in one venv of `cache`, built once; else what went wrong."""
        envs = [p for p in (cache / "envs").glob("*") if p.is_dir() and ".tmp-" not in p.name]
        if not self.prefix.startswith(str(cache)):
            return f"ran in {self.prefix}, not in a freight venv"
        return "" if len(envs) == 1 else f"{len(envs)} environments built"


def bench_prepare(requirements: list[str], work: Path, repeats: int) -> list[Row]:
    """First call (fresh freight cache) and second calls, with uv's cache as it is and empty."""
    rows = []
    for label, uv_cache in (("uv cache as it is", None), ("empty uv cache", work / "uv-cache")):
        os.environ["FREIGHT_CACHE_DIR"] = str(work / f"freight-cache-{len(rows)}")
        if uv_cache:
            os.environ["UV_CACHE_DIR"] = str(uv_cache)
        first = timed(lambda: _expect(requirements, created=True))
        second = [timed(lambda: _expect(requirements, created=False)) for _ in range(repeats)]
        median = statistics.median(second)
        rows.append(Row(f"prepare_environment ({label})", first, median, "in-process call", False))
        os.environ.pop("UV_CACHE_DIR", None)
    return rows


def _expect(requirements: list[str], created: bool) -> None:
    env = prepare_environment(requirements, "venv")
    assert env.created is created, env.reason


ENV_STEP = """
import os, sys
from freight.engines import prepare_environment
env = prepare_environment(sys.argv[2].split(","), "venv")
os.execv(env.python, [env.python, "probe.py", sys.argv[1]])
"""


def bench_env_step(project: Project, requirements: list[str], repeats: int) -> Row:
    """A new process that imports freight, prepares the venv and execs the program in it:
    freight's environment step as `freight run` pays it, without the run store and target."""
    cache = project.root / "env-step-cache"
    project.env["FREIGHT_CACHE_DIR"] = str(cache)
    step = [sys.executable, "-c", ENV_STEP, str(project.stamp), ",".join(requirements)]
    first = project.to_program_start(step)
    second = [project.to_program_start(step) for _ in range(repeats)]
    note = project.ran_in_venv_of(cache) or "new process: import freight, prepare, exec"
    return Row("python -c prepare_environment + exec", first, statistics.median(second), note)


def freight_has_run() -> bool:
    argv = [sys.executable, "-m", "freight", "run", "--help"]
    result = subprocess.run(argv, capture_output=True, text=True)
    return result.returncode == 0 and "--env" in result.stdout


def bench_freight_run(project: Project, requirements: list[str], repeats: int) -> Row:
    if not freight_has_run():
        return Row("freight run --env venv", None, None, "this freight has no `run` command yet")
    cache = project.root / "freight-cache"
    project.env["FREIGHT_CACHE_DIR"] = str(cache)
    listed = ", ".join(f'"{r}"' for r in requirements)
    (project.root / "freight.toml").write_text(f'env = "venv"\nrequirements = [{listed}]\n')
    run = [sys.executable, "-m", "freight", "run", "--env", "venv", "probe.py", str(project.stamp)]
    try:
        first = project.to_program_start(run)
        second = [project.to_program_start(run) for _ in range(repeats)]
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
        return Row("freight run --env venv", None, None, f"failed: {' '.join(tail)}")
    note = project.ran_in_venv_of(cache) or "ran in the one venv built by the first run"
    return Row("freight run --env venv (to first task)", first, statistics.median(second), note)


def bench_by_hand(project: Project, requirements: list[str], repeats: int) -> list[Row]:
    (project.root / "requirements.txt").write_text("\n".join(requirements) + "\n")
    venv = project.root / "hand-venv"
    python = str(venv / "bin" / "python")
    steps = (
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [python, "-m", "pip", "install", "-q", "-r", "requirements.txt"],
        [python, "probe.py", str(project.stamp)],
    )
    runs = [project.to_program_start(*steps) for _ in range(repeats + 1)]
    floor = [project.to_program_start(steps[-1]) for _ in range(repeats)]
    return [
        Row("by hand: python -m venv + pip install -r", runs[0], statistics.median(runs[1:]),
            "what a user does each run without freight"),
        Row("by hand: venv kept, run the program", None, statistics.median(floor),
            "the floor: interpreter start only"),
    ]


def seconds_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if value < 0.01 else f"{value:.3f}"


def speedup_text(row: Row, by_hand: Row) -> str:
    """How many times sooner than the by-hand workflow the program starts (end to end only)."""
    if not row.end_to_end or row is by_hand or None in (row.second, by_hand.second):
        return "—"
    return f"{by_hand.second / row.second:.0f}×"


def print_table(rows: list[Row], markdown: bool) -> None:
    by_hand = next(r for r in rows if r.how.startswith("by hand: python -m venv"))
    headers = ["how", "first run (s)", "second run (s)", "by hand ÷ this (second run)", "note"]
    cells = [
        [r.how, seconds_text(r.first), seconds_text(r.second), speedup_text(r, by_hand), r.note]
        for r in rows
    ]
    if markdown:
        print("| " + " | ".join(headers) + " |\n|" + "---|" * len(headers))
        for line in cells:
            print("| " + " | ".join(line) + " |")
        return
    table = Table(*headers, title="Environments: second run")
    for line in cells:
        table.add_row(*line)
    console.print(table)


def probe_source(requirements: list[str]) -> str:
    names = [re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in requirements]
    return PROBE + "".join(f"import {name}\n" for name in names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", default="numpy,six",
                        help="comma-separated, import name = distribution name (numpy,six)")
    parser.add_argument("--repeats", type=int, default=3, help="second runs timed (median shown)")
    parser.add_argument("--markdown", action="store_true", help="a table for bench/README.md")
    args = parser.parse_args(argv)
    requirements = [r.strip() for r in args.requirements.split(",") if r.strip()]
    with tempfile.TemporaryDirectory(prefix="freight-bench-venv-") as tmp:
        project = Project(Path(tmp), dict(os.environ))
        (project.root / "probe.py").write_text(probe_source(requirements))
        rows = bench_prepare(requirements, project.root, args.repeats)
        rows.append(bench_env_step(project, requirements, args.repeats))
        rows.append(bench_freight_run(project, requirements, args.repeats))
        rows += bench_by_hand(project, requirements, args.repeats)
    console.print(f"requirements: {', '.join(requirements)}; python {sys.version.split()[0]}; "
                  f"uv {uv_version()}; {os.cpu_count()} cores", highlight=False)
    print_table(rows, args.markdown)
    return 0


def uv_version() -> str:
    from freight.engines.venv import uv_binary

    result = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True)
    return result.stdout.split()[1] if result.returncode == 0 else "?"


if __name__ == "__main__":
    sys.exit(main())
