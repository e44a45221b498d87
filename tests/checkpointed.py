"""A test program that checkpoints, for tests of --signal, --checkpoint-cmd and --requeue on
every target (marker files reach a task on every scheduler; environment variables do not reach
Grid Engine's).

`work.py N DIR` logs each execution to DIR/ran/N (with the scheduler's restart count). When its
checkpoint DIR/saved/N exists, or DIR/quick-N does, it reports N squared and ends. Otherwise it
works until the warning (SIGUSR1), notes it in DIR/warned/N and exits 3, or, while DIR/stubborn
exists, works on until its time limit. `save.py N DIR`, its checkpoint command, writes
DIR/saved/N."""

from __future__ import annotations

from pathlib import Path

WORK = """
import os, signal, sys, time
from pathlib import Path
import freight
n, where = sys.argv[1], Path(sys.argv[2])
(where / "ran").mkdir(parents=True, exist_ok=True)
restarts = os.environ.get("SLURM_RESTART_COUNT") or os.environ.get("RESTARTED") or "-"
with open(where / "ran" / n, "a") as f:
    f.write(f"ran {os.environ['FREIGHT_TASK_INDEX']} restarts={restarts}\\n")
if (where / "saved" / n).exists() or (where / f"quick-{n}").exists():
    freight.report(square=int(n) ** 2)
    raise SystemExit(0)
def warned(signum, frame):
    (where / "warned").mkdir(exist_ok=True)
    (where / "warned" / n).write_text(signal.Signals(signum).name)
    if not (where / "stubborn").exists():
        raise SystemExit(3)
signal.signal(signal.SIGUSR1, warned)
(where / "working").mkdir(exist_ok=True)
(where / "working" / n).touch()
while True:
    time.sleep(0.1)
"""

SAVE = """
import sys
from pathlib import Path
n, where = sys.argv[1], Path(sys.argv[2])
(where / "saved").mkdir(parents=True, exist_ok=True)
(where / "saved" / n).write_text("checkpoint")
print(f"saved {n}")
"""


def write_programs(project) -> None:
    project.write("work.py", WORK)
    project.write("save.py", SAVE)


def preemption_flags(where: Path, *, time: str, signal: str, max_requeue: int = 2) -> list[str]:
    return ["--time", time, "--signal", signal, "--checkpoint-cmd", f"python save.py {{n}} {where}",
            "--requeue", "--max-requeue", str(max_requeue)]


def executions(where: Path) -> dict[int, list[str]]:
    """Row -> one line per time its program ran: "ran INDEX restarts=R"."""
    return {int(p.name): p.read_text().splitlines() for p in (where / "ran").glob("*")}


def squares(project) -> list[tuple[str, int]]:
    """(n, square) of every row's result, as `freight results` gives them."""
    import json

    rows = json.loads(project.freight("results", "--json", check=True).stdout)
    return sorted((str(row["n"]), row["square"]) for row in rows)
