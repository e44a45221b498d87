"""Submitting sweeps to a real Slurm / Grid Engine: freight vs a loop of sbatch (qsub) calls vs
submitit's map_array, side by side in one run, and freight --pack vs one task per array element.

Every method runs the same tiny task for each row n (`prog.py n OUT`, or the same code as a
submitit function): it writes OUT/n holding "n n*n end-time". For each sweep size N:

- freight CLI: `freight run --target T --env current --no-wait --sweep n=range:0:N prog.py {n} OUT`
- freight API: a script calling `freight.run("prog.py", ["{n}", OUT], sweep={"n": range(N)}, target=T)`
- loop:        `for n in $(seq 0 N-1); do sbatch --parsable job.sh "$n" OUT; done` (`qsub -terse` on SGE)
- submitit:    AutoExecutor(cluster="slurm").map_array(task, range(N)), no throttle, one call per
               MaxArraySize - 1 rows (one call over more fails); Slurm only, submitit has no SGE
- at the largest size also `freight CLI --pack K`

**submit** = seconds from launching the method's command (interpreter start-up included) to its
exit. **queued** (freight only) = seconds to the last array handed to the scheduler; the rest of
freight's submit is the run's status, printed before it exits. **done** = seconds from the launch
to the last row's own end time (from the OUT files: no tool's polling interval counts). Every
row is checked: present once, with the right value. Methods run one after another, each once the
previous one's jobs have left the queue; sizes above --finish-up-to are submitted, then cancelled.

Two limits of a shared test cluster shape what runs:
- The loop submits at most --loop-limit jobs (default 2,000), and on Slurm no more than the job
  table has room for (below); above that its submit time is the measured rate times N, marked
  "≈". (`--loop-limit 0`: no cap.)
- Slurm reserves one slot of MaxJobCount (default 10,000) per array element or job, until
  MinJobAge (300 s) after it ends; while the table is full every sbatch on the cluster blocks.
  A method that needs more than half of MaxJobCount is skipped on Slurm, saying so: at 10,000
  rows only `freight --pack K` (N/K elements) and the loop's capped part run there.

Run: `.venv/bin/python bench/submit.py [--scheduler slurm,sge] [--sizes 10,1000,10000]
[--finish-up-to 1000] [--pack 10] [--repeat 1] [--markdown]` with a Python that has freight and
submitit (`.venv/bin/pip install -r bench/requirements.txt`). Raw figures:
bench/_work/submit-results.json; `--from-results` prints them again, `--append` adds rounds to them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
RESULTS = WORK / "submit-results.json"
PY = sys.executable  # runs freight, the tasks and submitit: it must have all three
WRITE_ROW = """\
    tmp = Path(out) / f".{n}.tmp"
    tmp.write_text(f"{n} {n * n} {time.time()}\\n")
    os.replace(tmp, Path(out) / str(n))
"""
PROGRAM = f"""\
import os, sys, time
from pathlib import Path

def task(n, out):
{WRITE_ROW}
task(int(sys.argv[1]), sys.argv[2])
"""
SUBMITIT = f"""\
import sys
import submitit

def task(n, out):
    import os, time
    from pathlib import Path
{WRITE_ROW}
rows, out, folder, chunk = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
executor.update_parameters(timeout_min=10, slurm_array_parallelism=rows, name="bench-submitit")
for first in range(0, rows, chunk):
    numbers = range(first, min(first + chunk, rows))
    jobs = executor.map_array(task, numbers, [out] * len(numbers))
    print(jobs[0].job_id.split("_")[0], flush=True)
"""
FREIGHT_API = """\
import sys
import freight

rows, out, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
run = freight.run("prog.py", ["{n}", out], sweep={"n": list(range(rows))}, target=target, env="current",
                  name="bench")
print(run.id)
"""


# -- the schedulers -----------------------------------------------------------------------------


@dataclass
class Scheduler:
    name: str  # freight's --target
    loop_call: str  # one submission of the loop, in bash; "$n" is the row
    cancel: str
    listed: Callable[[set[str]], set[str]]  # which of these job ids are still queued or running
    room: Callable[[], int]  # job slots a method may take now
    held: Callable[[], int] = lambda: 0  # slots the table holds now (freed in time)
    purge_s: Callable[[], int] = lambda: 0  # how long a finished job keeps its slot

    def available(self) -> bool:
        return shutil.which(self.cancel) is not None


def _squeue(ids: set[str]) -> set[str]:
    done = subprocess.run(["squeue", "-h", "-o", "%F", f"--jobs={','.join(sorted(ids))}"],
                          capture_output=True, text=True)
    return set(done.stdout.split()) & ids if done.returncode == 0 else set()


def _qstat(ids: set[str]) -> set[str]:
    done = subprocess.run(["qstat", "-u", os.environ.get("USER", "root")], capture_output=True, text=True)
    return {line.split()[0] for line in done.stdout.splitlines()[2:] if line.split()} & ids


def slurm_config(key: str, default: int) -> int:
    done = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True)
    found = re.search(rf"^{key}\s*=\s*(\d+)", done.stdout, flags=re.M)
    return int(found.group(1)) if found else default


def _slurm_held() -> int:
    """Job slots Slurm's table holds now: one per job or array element, finished ones too."""
    held = subprocess.run(["squeue", "-h", "-r", "--states=all", "-o", "%i"], capture_output=True, text=True)
    return len(held.stdout.split())


def _slurm_room() -> int:
    """Half of MaxJobCount, less what the table holds: the other half stays for everyone else."""
    return slurm_config("MaxJobCount", 10000) // 2 - _slurm_held()


SCHEDULERS = {
    "slurm": Scheduler("slurm", 'sbatch --parsable --job-name=bench-loop --time=10 --output=logs/%j.out job.sh "$n" "$OUT"',
                       "scancel", _squeue, _slurm_room, _slurm_held, lambda: slurm_config("MinJobAge", 300)),
    "sge": Scheduler("sge", 'qsub -terse -N bench-loop -S /bin/bash -cwd -o logs -e logs job.sh "$n" "$OUT"',
                     "qdel", _qstat, lambda: 10**9),
}


# -- one measurement ----------------------------------------------------------------------------


@dataclass
class Outcome:
    scheduler: str
    rows: int
    method: str
    submit_s: float | None = None
    queued_s: float | None = None
    done_s: float | None = None
    estimated: bool = False  # submit_s extrapolated from fewer submissions (the loop's cap)
    skipped: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class Bench:
    root: Path
    finish_up_to: int
    loop_limit: int
    timeout_s: float
    count: int = 0

    def prepare(self, sched: Scheduler, rows: int, method: str) -> Path:
        self.count += 1  # a fresh folder for every measurement, rounds included
        here = self.root / sched.name / f"{self.count:03d}-{rows}-{re.sub(r'[^a-z0-9]+', '-', method.lower())}"
        (here / "out").mkdir(parents=True)
        (here / "logs").mkdir()
        (here / "prog.py").write_text(PROGRAM)
        (here / "job.sh").write_text(f'#!/bin/bash\nexec {PY} prog.py "$1" "$2"\n')
        (here / "with_submitit.py").write_text(SUBMITIT)  # not submitit.py: `import submitit` would find it
        (here / "api.py").write_text(FREIGHT_API)
        return here

    def measure(self, sched: Scheduler, rows: int, method: str, pack: int = 1, chunk: int = 0) -> Outcome:
        outcome = Outcome(sched.name, rows, method)
        count = min(rows, self.loop_limit or rows) if method == "loop" else rows
        slots = count if method == "loop" else -(-rows // pack)  # array elements or jobs
        if not wait_for_room(sched, slots):
            outcome.skipped = (f"needs {slots:,} of Slurm's job slots (MaxJobCount "
                               f"{slurm_config('MaxJobCount', 10000):,}; at most half are taken)")
            return report(outcome)
        here = self.prepare(sched, rows, method)
        argv = {
            "freight CLI": [PY, "-m", "freight", "run", "--target", sched.name, "--env", "current", "--no-wait",
                            "--name", "bench", *(["--pack", str(pack)] if pack > 1 else []),
                            "--sweep", f"n=range:0:{rows}", "prog.py", "{n}", str(here / "out")],
            "freight API": [PY, "api.py", str(rows), str(here / "out"), sched.name],
            "loop": ["bash", "-c", f'set -euo pipefail\nfor n in $(seq 0 {count - 1}); do {sched.loop_call}; done'],
            "submitit map_array": [PY, "with_submitit.py", str(rows), str(here / "out"), str(here / "submitit"), str(chunk)],
        }[method.split(" --pack")[0]]
        env = {k: v for k, v in os.environ.items() if k != "FREIGHT_HOME"} | {"OUT": str(here / "out")}
        started = time.time()
        done = subprocess.run(argv, cwd=here, env=env, capture_output=True, text=True)
        outcome.submit_s = (time.time() - started) * rows / count
        outcome.estimated = count < rows
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            outcome.problems.append(f"exit {done.returncode}: {lines[-1][:160] if lines else ''}")
            outcome.submit_s = None
        if method.startswith("freight"):
            ids, queued = freight_submission(here, sched)
            outcome.queued_s = queued - started if queued else None
        else:
            ids = {line.split(".")[0].split(";")[0] for line in done.stdout.split()}
        self.follow(outcome, sched, here, started, ids, count)
        return report(outcome)

    def follow(self, outcome: Outcome, sched: Scheduler, here: Path, started: float, ids: set[str],
               count: int) -> None:
        """Wait for every row (sizes up to finish_up_to), else cancel; then for the queue to empty."""
        if not outcome.problems and outcome.rows <= self.finish_up_to and not outcome.estimated:
            ends, problems = wait_for_rows(here / "out", count, self.timeout_s)
            outcome.problems += problems
            outcome.done_s = max(ends) - started if ends and not problems else None
        if outcome.done_s is None:
            ordered = sorted(ids, key=int)
            for first in range(0, len(ordered), 1000):
                subprocess.run([sched.cancel, *ordered[first:first + 1000]], capture_output=True)
        deadline = time.monotonic() + self.timeout_s
        while ids and sched.listed(ids) and time.monotonic() < deadline:
            time.sleep(0.5)


def wait_for_room(sched: Scheduler, slots: int) -> bool:
    """Wait until the scheduler has room for `slots` jobs: Slurm frees a finished job's slot
    MinJobAge seconds after its end. False when it never will (more than half the table)."""
    if slots > sched.room() + sched.held():
        return False
    deadline = time.monotonic() + sched.purge_s() + 60
    while slots > sched.room():
        if time.monotonic() > deadline:
            return False
        time.sleep(5)
    return True


def freight_submission(here: Path, sched: Scheduler) -> tuple[set[str], float | None]:
    """(job ids, when the last array was handed to the scheduler) from freight's run folder."""
    from freight.runs.store import RunStore

    store = RunStore(here / ".freight")
    try:
        run = store.get_run()
    except Exception:  # no run: the command failed, already reported
        return set(), None
    if sched.name == "sge":
        arrays = [a for a in json.loads((run.paths.root / "sge-jobs.json").read_text()) if a.get("job")]
        return {str(a["job"]) for a in arrays}, max((a["time"] for a in arrays), default=None)
    arrays = store.get_meta(run.id, "slurm_jobs", [])
    return {str(a["job"]) for a in arrays if a.get("job")}, max((a["submitted"] for a in arrays), default=None)


def wait_for_rows(out: Path, rows: int, timeout_s: float) -> tuple[list[float], list[str]]:
    """Every row's end time once all `rows` files are there; problems when one is missing,
    wrong, or the wait timed out."""
    deadline = time.monotonic() + timeout_s
    while sum(1 for p in os.scandir(out) if not p.name.startswith(".")) < rows:
        if time.monotonic() > deadline:
            return [], [f"timeout: {sum(1 for _ in out.iterdir())} of {rows} rows after {timeout_s:.0f} s"]
        time.sleep(0.2)
    ends, problems = [], []
    for n in range(rows):
        words = (out / str(n)).read_text().split() if (out / str(n)).exists() else []
        if len(words) != 3 or words[:2] != [str(n), str(n * n)]:
            problems.append(f"row {n}: {' '.join(words) or 'missing'}")
        else:
            ends.append(float(words[2]))
    return ends, problems[:3]


def report(outcome: Outcome) -> Outcome:
    state = outcome.skipped or ("ok" if not outcome.problems else "; ".join(outcome.problems))
    print(f"{outcome.scheduler:5} {outcome.rows:>6} {outcome.method:<22} submit {fmt(outcome.submit_s):>7} s"
          f"  done {fmt(outcome.done_s):>7} s  {state}", file=sys.stderr, flush=True)
    return outcome


def run_all(args, bench: Bench) -> list[Outcome]:
    outcomes = []
    for name in args.scheduler:
        sched = SCHEDULERS[name]
        methods = ["freight CLI", "freight API", "loop"] + (["submitit map_array"] if name == "slurm" else [])
        chunk = slurm_config("MaxArraySize", 1001) - 1 if name == "slurm" else 0
        for _ in range(args.repeat):
            for rows in args.sizes:
                outcomes += [bench.measure(sched, rows, method, chunk=chunk) for method in methods]
            if max(args.sizes) != args.pack_tasks:
                outcomes.append(bench.measure(sched, max(args.sizes), f"freight CLI --pack {args.pack}", args.pack))
            if args.pack_tasks not in args.sizes:  # else the sweep's own run is the baseline
                outcomes.append(bench.measure(sched, args.pack_tasks, "freight CLI"))
            outcomes.append(bench.measure(sched, args.pack_tasks, f"freight CLI --pack {args.pack}", args.pack))
    return outcomes


# -- reporting ----------------------------------------------------------------------------------

HEADERS = ["scheduler", "rows", "method", "submit (s)", "queued (s)", "done (s)", "submit ÷ freight CLI",
           "done ÷ freight CLI", "rows checked"]


class Figures:
    """Medians over rounds, by (scheduler, rows, method)."""

    def __init__(self, outcomes: list[Outcome]):
        self.runs: dict[tuple[str, int, str], list[Outcome]] = {}
        for o in outcomes:
            self.runs.setdefault((o.scheduler, o.rows, o.method), []).append(o)

    def get(self, key: tuple[str, int, str], attr: str) -> float | None:
        values = [getattr(r, attr) for r in self.runs.get(key, [])]
        return statistics.median(values) if values and None not in values else None

    def row(self, key: tuple[str, int, str]) -> list[str]:
        runs, base = self.runs[key], (key[0], key[1], "freight CLI")
        if runs[0].skipped:
            return [key[0], f"{key[1]:,}", key[2], "-", "-", "-", "-", "-", f"skipped: {runs[0].skipped}"]
        submit, done = self.get(key, "submit_s"), self.get(key, "done_s")
        checked = "all" if not any(r.problems for r in runs) else "; ".join(runs[0].problems)[:70]
        if done is None and not runs[0].problems:
            checked = "submit only, then cancelled"
        return [key[0], f"{key[1]:,}", key[2], fmt(submit, runs[0].estimated), fmt(self.get(key, "queued_s")),
                fmt(done), ratio(submit, self.get(base, "submit_s")), ratio(done, self.get(base, "done_s")), checked]

    def tables(self, sizes: list[int], pack_tasks: int) -> tuple[list[list[str]], list[list[str]]]:
        """(every sweep size and method; the --pack comparison at pack_tasks)."""
        sweep = [self.row(k) for k in self.runs if k[1] in sizes and (k[1] != pack_tasks or "--pack" not in k[2])]
        pack = [self.row(k) for k in self.runs if k[1] == pack_tasks and k[2].startswith("freight CLI")]
        return sweep, pack


def fmt(value: float | None, approx: bool = False) -> str:
    return "-" if value is None else ("≈" if approx else "") + f"{value:.2f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def goal_lines(figures: Figures, sizes: list[int], pack_tasks: int) -> list[str]:
    lines: list[str] = []

    def check(what: str, a: float | None, b: float | None, goal: float, at_least: bool = True) -> None:
        if a is not None and b is not None and b > 0:
            met = a / b >= goal if at_least else a / b < goal
            lines.append(f"{what} = {a / b:.2f}x (goal {'>=' if at_least else '<'} {goal:g}x: {'met' if met else 'MISSED'})")

    for sched in dict.fromkeys(key[0] for key in figures.runs):
        def get(rows: int, method: str, attr: str = "submit_s") -> float | None:
            return figures.get((sched, rows, method), attr)

        check(f"{sched}: loop ÷ freight CLI, submit of 1,000 rows", get(1000, "loop"), get(1000, "freight CLI"), 10)
        small, big = min(sizes), max(sizes)
        packed = [k[2] for k in figures.runs if k[0] == sched and k[1] == big and "--pack" in k[2]]
        for method in ("freight CLI", "freight API"):  # at `big`, or packed (CLI) where it did not fit
            at_big = method if get(big, method) is not None else next(iter(packed), method)
            if not at_big.startswith(method):  # no packed API run to compare with
                continue
            for attr, what in (("submit_s", "submit"), ("queued_s", "queued")):
                check(f"{sched}: {at_big} {what} of {big:,} rows ÷ {method} of {small:,}", get(big, at_big, attr),
                      get(small, method, attr), 2, at_least=False)
        for rows in sizes:
            for freight in ("freight CLI", "freight API"):
                check(f"{sched}: submitit ÷ {freight}, submit of {rows:,} rows", get(rows, "submitit map_array"),
                      get(rows, freight), 1)
            check(f"{sched}: submitit ÷ freight CLI, done of {rows:,} rows", get(rows, "submitit map_array", "done_s"),
                  get(rows, "freight CLI", "done_s"), 1)
        for key in [k for k in figures.runs if k[0] == sched and k[1] == pack_tasks and "--pack" in k[2]]:
            check(f"{sched}: one task per element ÷ {key[2]}, done of {pack_tasks:,} tasks",
                  get(pack_tasks, "freight CLI", "done_s"), get(pack_tasks, key[2], "done_s"), 3)
    return lines


def print_markdown(headers: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" if i < 3 else "---:" for i in range(len(headers) - 1)) + "|---|")
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")


def print_rich(title: str, headers: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if 3 <= i < len(headers) - 1 else "left")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def print_report(data: dict, markdown: bool) -> None:
    figures = Figures([Outcome(**o) for o in data["outcomes"]])
    sweep, pack = figures.tables(data["sizes"], data["pack_tasks"])
    for title, rows in (("Submitting a sweep", sweep), ("--pack vs one task per array element", pack)):
        if markdown:
            print_markdown(HEADERS, rows)
            print()
        else:
            print_rich(title, HEADERS, rows)
    for line in goal_lines(figures, data["sizes"], data["pack_tasks"]):
        print(f"- {line}" if markdown else line)
    m = data["machine"]
    print(f"\n{m['cpu']}, {m['nproc']} cores, Python {m['python']}; {m['slurm']}; {m['sge']}; "
          f"submitit {m['submitit']}; load average at the start {m['load']}; {m['date']}")


def machine() -> dict[str, str]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "?")
    try:
        import submitit
        version = submitit.__version__
    except ImportError:
        version = "missing"
    sge = subprocess.run(["qstat", "-help"], capture_output=True, text=True).stdout if shutil.which("qstat") else ""
    slurm = subprocess.run(["sinfo", "--version"], capture_output=True, text=True).stdout if shutil.which("sinfo") else ""
    return {"cpu": cpu, "nproc": str(os.cpu_count()), "python": platform.python_version(),
            "slurm": slurm.strip() or "no Slurm", "sge": (sge.splitlines() or ["no Grid Engine"])[0],
            "submitit": version, "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheduler", default="slurm,sge", type=lambda s: s.split(","),
                        help="comma-separated: slurm, sge (default both)")
    parser.add_argument("--sizes", default="10,1000,10000", type=lambda s: [int(x) for x in s.split(",")],
                        help="sweep sizes (default 10,1000,10000)")
    parser.add_argument("--finish-up-to", type=int, default=1000,
                        help="wait for the rows to finish up to this size; bigger: submit only (default 1000)")
    parser.add_argument("--loop-limit", type=int, default=2000,
                        help="most jobs the sbatch/qsub loop really submits per size (0: no cap)")
    parser.add_argument("--pack", type=int, default=10, help="K of the --pack rows (default 10)")
    parser.add_argument("--pack-tasks", type=int, default=1000, help="tasks of the --pack comparison (default 1000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (medians shown)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one method's rows")
    parser.add_argument("--markdown", action="store_true", help="markdown tables (for bench/README.md)")
    parser.add_argument("--from-results", action="store_true", help=f"print {RESULTS.name} again")
    parser.add_argument("--append", action="store_true", help=f"add this run's rounds to {RESULTS.name}'s")
    args = parser.parse_args(argv)
    if args.from_results:
        print_report(json.loads(RESULTS.read_text()), args.markdown)
        return 0
    missing = [s for s in args.scheduler if s not in SCHEDULERS or not SCHEDULERS[s].available()]
    if missing:
        print(f"not available here: {', '.join(missing)} (bash ci/slurm.sh up, bash ci/sge.sh up)", file=sys.stderr)
        return 2
    WORK.mkdir(exist_ok=True)
    root = WORK / "submit"
    shutil.rmtree(root, ignore_errors=True)
    info = machine()
    outcomes = run_all(args, Bench(root, args.finish_up_to, args.loop_limit, args.timeout))
    data = {"machine": info, "sizes": args.sizes, "pack_tasks": args.pack_tasks,
            "outcomes": [asdict(o) for o in outcomes]}
    if args.append and RESULTS.exists():  # more rounds of the same sizes, e.g. one scheduler again
        data["outcomes"] = json.loads(RESULTS.read_text())["outcomes"] + data["outcomes"]
    RESULTS.write_text(json.dumps(data, indent=1))
    print_report(data, args.markdown)
    return 0 if not any(o.problems for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
