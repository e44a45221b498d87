"""Local target vs GNU parallel: N tiny tasks, the same program, the same parallelism.

The issue's goal: `freight run` of 1,000 tiny tasks on the local target takes at most 1.3x
the wall time of GNU parallel running the same program with `-j nproc`. Side by side, in one
run, each method timed from launching its command to its exit:

- freight:   `python -m freight run --env current --json --sweep n=range:0:N prog.py {n}`
             (the program calls `freight.report(value=...)`; counted from `freight results`)
- parallel:  `seq 0 N-1 | parallel -j J python prog.py {}` (the program prints the number)
- xargs -P:  `seq 0 N-1 | xargs -P J -n 1 python prog.py`, for context
- bash loop: `for n in $(seq 0 N-1); do python prog.py "$n"; done`, one after another

Every method runs R times, interleaved (a round runs each method once, in a rotating order,
so a busy spell on the machine hits all of them); the median is reported, and for freight also
the median of the rounds' freight/parallel ratios. Every run is checked: all N tasks succeeded
and all N numbers came back with the right value, none twice. For freight, the run record
also splits the wall time into client start-up, the supervisor's start, the tasks and the tail
(last task's end to the command's exit).

Every method runs the interpreter running this script, by absolute path, with
PYTHONDONTWRITEBYTECODE unset. To measure outside this interpreter's site-packages, run the
script with another one (a plain venv with freight installed).

Run: `python bench/local.py [--tasks 1000] [--repeat 3] [--jobs J] [--only freight,xargs]`;
it prints markdown tables. `--src DIR` (repeatable) measures freight from a checkout instead
of the installed one, one row per tree (`--src /tmp/freight-try` for a patched copy). Raw
figures go to bench/_work/local-results.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
GOAL_RATIO = 1.3
# One program for every method: inside a freight task it reports, elsewhere it prints.
PROGRAM = """\
import os
import sys

n = int(sys.argv[1])
value = n * n + 1
if os.environ.get("FREIGHT_TASK_DIR"):
    import freight

    freight.report(value=value)
else:
    # One write (PYTHONUNBUFFERED makes print() write each piece apart): lines of tasks running
    # at once under xargs -P would otherwise interleave in the shared pipe.
    sys.stdout.write(f"{n} {value}\\n")
"""


def expected(n: int) -> int:
    return n * n + 1


@dataclass
class Outcome:
    """One timed run of one method."""

    wall: float
    problems: list[str] = field(default_factory=list)  # empty: every task and number came back
    phases: dict[str, float] = field(default_factory=dict)  # freight only: where the time went


@dataclass
class Method:
    name: str
    shown: str  # the command as a user would type it
    run: Callable[[Path], Outcome]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [o.wall for o in self.outcomes]

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


@dataclass
class Bench:
    tasks: int
    jobs: int
    env: dict[str, str]
    python: str = sys.executable

    def launch(self, argv: list[str], cwd: Path, stdin: str = "",
               env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env or self.env, input=stdin, capture_output=True,
                              text=True)
        return time.perf_counter() - start, done

    def numbers(self) -> str:
        return "".join(f"{n}\n" for n in range(self.tasks))

    # -- the methods --------------------------------------------------------------------------

    def freight(self, cwd: Path, src: Path | None = None) -> Outcome:
        """`freight run` of the installed freight, or of the source tree `src`."""
        env = with_pythonpath(self.env, src)
        argv = [self.python, "-m", "freight", "run", "--env", "current", "--json",
                "--sweep", f"n=range:0:{self.tasks}", "prog.py", "{n}"]
        launched = time.time()
        wall, done = self.launch(argv, cwd, env=env)
        exited = time.time()
        if done.returncode != 0:
            return Outcome(wall, [f"exit {done.returncode}: {_last_line(done.stderr)}"])
        try:
            record = json.loads(done.stdout)
        except ValueError:
            return Outcome(wall, [f"no run record on stdout: {_last_line(done.stdout)[:80]!r}"])
        problems = self._freight_problems(record, cwd, env)
        phases = {} if problems else _freight_phases(record, launched, exited)
        return Outcome(wall, problems, phases)

    def _freight_problems(self, record: dict, cwd: Path, env: dict[str, str]) -> list[str]:
        problems = []
        if record["counts"] != {"succeeded": self.tasks}:
            problems.append(f"states {record['counts']}")
        results = [self.python, "-m", "freight", "results", record["id"], "--json"]
        _, listed = self.launch(results, cwd, env=env)
        rows = json.loads(listed.stdout) if listed.returncode == 0 else []
        got = {int(row["n"]): row.get("value") for row in rows
               if row.get("state") == "succeeded" and "n" in row}
        return problems + _number_problems(got, len(rows), self.tasks)

    def parallel(self, cwd: Path) -> Outcome:
        argv = ["parallel", "-j", str(self.jobs), self.python, "prog.py", "{}"]
        return self._printed(argv, cwd, self.numbers())

    def xargs(self, cwd: Path) -> Outcome:
        argv = ["xargs", "-P", str(self.jobs), "-n", "1", self.python, "prog.py"]
        return self._printed(argv, cwd, self.numbers())

    def loop(self, cwd: Path) -> Outcome:
        script = 'set -euo pipefail; for n in $(seq 0 "$1"); do "$2" prog.py "$n"; done'
        argv = ["bash", "-c", script, "bash", str(self.tasks - 1), self.python]
        return self._printed(argv, cwd)

    def _printed(self, argv: list[str], cwd: Path, stdin: str = "") -> Outcome:
        """A method whose tasks print `n value`: time it, then check every line came back."""
        wall, done = self.launch(argv, cwd, stdin)
        problems = [f"exit {done.returncode}: {_last_line(done.stderr)}"] if done.returncode else []
        lines = [line.split() for line in done.stdout.splitlines() if line.strip()]
        pairs = [(int(n), int(value)) for n, value in (ln for ln in lines if _is_pair(ln))]
        if len(pairs) != len(lines):
            problems.append(f"{len(lines) - len(pairs)} garbled output lines")
        return Outcome(wall, problems + _number_problems(dict(pairs), len(pairs), self.tasks))

    def methods(self, sources: list[Path]) -> list[Method]:
        """freight (installed, or one row per source tree), GNU parallel, xargs, the loop."""
        j, last = self.jobs, self.tasks - 1
        command = f"freight run --env current --sweep n=range:0:{self.tasks} prog.py {{n}}"
        freights = [Method("freight", command, self.freight)] if not sources else [
            Method(f"freight ({src})", command, functools.partial(self.freight, src=src))
            for src in sources]
        return [
            *freights,
            Method("GNU parallel", f"seq 0 {last} | parallel -j {j} python prog.py {{}}", self.parallel),
            Method("xargs -P", f"seq 0 {last} | xargs -P {j} -n 1 python prog.py", self.xargs),
            Method("bash for loop", f'for n in $(seq 0 {last}); do python prog.py "$n"; done', self.loop),
        ]


def _is_pair(words: list[str]) -> bool:
    return len(words) == 2 and all(w.lstrip("-").isdigit() for w in words)


def _number_problems(got: dict[int, object], reported: int, tasks: int) -> list[str]:
    """What is wrong with the numbers that came back: missing, duplicated or wrong values."""
    problems = []
    missing = sorted(set(range(tasks)) - set(got))
    if missing:
        problems.append(f"{len(missing)} numbers missing (first: {missing[:5]})")
    if reported != len(got):
        problems.append(f"{reported - len(got)} duplicate or extra results")
    wrong = [n for n, value in got.items() if value != expected(n)]
    if wrong:
        problems.append(f"{len(wrong)} wrong values (first: {wrong[:5]})")
    return problems


def _freight_phases(record: dict, launched: float, exited: float) -> dict[str, float]:
    """Where freight's wall time went, from its run record's timestamps (seconds)."""
    tasks = record["tasks"]
    first = min(t["started"] for t in tasks if t["started"])
    last = max(t["ended"] for t in tasks if t["ended"])
    return {
        "client start-up (to the run's creation)": record["created"] - launched,
        "submit + supervisor start (to the first task)": first - record["created"],
        "tasks (first start to last end)": last - first,
        "tail (last task's end to exit)": exited - last,
    }


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


# -- running and reporting ----------------------------------------------------------------------


def run_rounds(bench: Bench, methods: list[Method], repeat: int, root: Path) -> None:
    """`repeat` rounds; each runs every method once in a fresh project folder, order rotated."""
    for round_no in range(repeat):
        shift = round_no % len(methods)
        for method in methods[shift:] + methods[:shift]:
            project = root / f"method{methods.index(method)}-round{round_no}"
            project.mkdir()
            (project / "prog.py").write_text(PROGRAM)
            outcome = method.run(project)
            method.outcomes.append(outcome)
            shutil.rmtree(project, ignore_errors=True)
            state = "ok" if not outcome.problems else "; ".join(outcome.problems)
            print(f"round {round_no + 1}/{repeat}  {method.name:<16} {outcome.wall:8.2f} s  {state}",
                  file=sys.stderr, flush=True)


def python_start_ms(bench: Bench, times: int = 20) -> float:
    """Median start-up of this interpreter (`python -c pass`), the floor of every task."""
    walls = [bench.launch([bench.python, "-c", "pass"], Path.cwd())[0] for _ in range(times)]
    return statistics.median(walls) * 1000


def table_rows(methods: list[Method], tasks: int) -> list[list[str]]:
    reference = next(m for m in methods if m.name == "GNU parallel").median
    rows = []
    for m in methods:
        runs = ", ".join(f"{w:.1f}" for w in m.walls)
        checked = "all" if not any(o.problems for o in m.outcomes) else "LOSSES"
        rows.append([m.name, f"`{m.shown}`", f"{m.median:.2f}", runs,
                     f"{m.median / tasks * 1000:.1f}", f"{m.median / reference:.2f}x", checked])
    return rows


def phase_rows(freights: list[Method]) -> list[list[str]]:
    """One row per phase of a freight run, one column per freight method: medians of runs."""
    names = list(next(o.phases for o in freights[0].outcomes if o.phases))
    return [[name, *(f"{statistics.median(o.phases[name] for o in m.outcomes if o.phases):.2f}"
                     for m in freights)] for name in names]


def print_markdown(headers: list[str], rows: list[list[str]]) -> None:
    """A markdown table; columns of figures (all but the first two) right-aligned."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(headers))) + "|")
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")


def print_report(bench: Bench, methods: list[Method], start_ms: float) -> None:
    headers = ["method", "command", "wall, median (s)", "runs (s)", "wall / task (ms)",
               "× parallel", "tasks checked"]
    print_markdown(headers, table_rows(methods, bench.tasks))
    parallel = next(m for m in methods if m.name == "GNU parallel")
    freights = [m for m in methods if m.name.startswith("freight") and any(o.phases for o in m.outcomes)]
    if freights:
        print()
        print_markdown(["where freight's wall time went (s, median)", *(m.name for m in freights)],
                       phase_rows(freights))
    print(f"\n{bench.tasks} tasks, -j {bench.jobs}; python start-up {start_ms:.0f} ms "
          f"(`python -c pass`, median of 20)")
    for freight in (m for m in methods if m.name.startswith("freight")):
        ratio = freight.median / parallel.median
        # The same round's runs met the same load on the machine: a steadier figure when it is busy.
        per_round = statistics.median(f.wall / p.wall for f, p in zip(freight.outcomes, parallel.outcomes))
        overhead_ms = (freight.median - parallel.median) / bench.tasks * 1000
        verdict = "met" if ratio <= GOAL_RATIO else "missed"
        print(f"{freight.name} / GNU parallel = {ratio:.2f}x (goal <= {GOAL_RATIO}x: {verdict}; "
              f"median of the rounds' ratios {per_round:.2f}x); "
              f"overhead per task = (freight - parallel) / N = {overhead_ms:+.1f} ms")


def machine() -> dict[str, str]:
    model = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    names = [line.split(":", 1)[1].strip() for line in model.splitlines() if line.startswith("Model name")]
    return {"nproc": str(os.cpu_count()), "cpu": names[0] if names else platform.processor(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d"),
            "parallel": _first_line(["parallel", "--version"])}


def _first_line(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "?"


def bench_env(jobs: int) -> dict[str, str]:
    """This environment without PYTHONDONTWRITEBYTECODE: it makes every interpreter start
    compile its imports again."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("FREIGHT_HOME", None)  # each project folder gets its own .freight
    env["FREIGHT_LOCAL_CPUS"] = str(jobs)  # freight's pool: as many tasks at once as -j
    return env


def with_pythonpath(env: dict[str, str], src: Path | None) -> dict[str, str]:
    """`env` with the source tree `src` first on PYTHONPATH (unchanged when None)."""
    if src is None:
        return env
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per run (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each method (median shown)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="tasks at once, for every method (default: nproc)")
    parser.add_argument("--only", help="comma-separated method names to run (GNU parallel always runs)")
    parser.add_argument("--src", type=Path, action="append", default=[],
                        help="measure freight from this checkout (or its src/ folder) instead of "
                             "the installed one; repeat to compare trees, one row each")
    args = parser.parse_args(argv)
    if shutil.which("parallel") is None:
        print("GNU parallel is missing: apt-get install -y parallel", file=sys.stderr)
        return 2
    bench = Bench(args.tasks, args.jobs, bench_env(args.jobs))
    try:
        sources = [import_root(bench, p) for p in args.src]
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    methods = [m for m in bench.methods(sources) if _wanted(m, args.only)]
    WORK.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="freight-bench-local-") as tmp:
        start_ms = python_start_ms(bench)
        run_rounds(bench, methods, args.repeat, Path(tmp))
    print_report(bench, methods, start_ms)
    _save(bench, methods, start_ms)
    return 0 if not any(o.problems for m in methods for o in m.outcomes) else 1


def import_root(bench: Bench, tree: Path) -> Path:
    """The folder to put on PYTHONPATH for a checkout or its src/, checked to be the freight
    that then gets imported (not the installed one)."""
    root = tree.resolve() / "src" if (tree / "src" / "freight").is_dir() else tree.resolve()
    probe = [bench.python, "-c", "import freight; print(freight.__file__)"]
    _, done = bench.launch(probe, Path.cwd(), env=with_pythonpath(bench.env, root))
    if not done.stdout.strip().startswith(str(root)):
        raise ValueError(f"--src {tree}: python imports freight from {done.stdout.strip() or '?'}")
    return root


def _wanted(method: Method, only: str | None) -> bool:
    names = {n.strip().lower() for n in (only or "").split(",") if n.strip()}
    return not names or method.name == "GNU parallel" or any(n in method.name.lower() for n in names)


def _save(bench: Bench, methods: list[Method], start_ms: float) -> None:
    data = {"machine": machine(), "tasks": bench.tasks, "jobs": bench.jobs,
            "python_start_ms": start_ms,
            "methods": {m.name: [asdict(o) for o in m.outcomes] for m in methods}}
    (WORK / "local-results.json").write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    sys.exit(main())
