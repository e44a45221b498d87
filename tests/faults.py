"""What the fault tests of every batch target share (tests/sched/test_*_faults.py): killing a
node's processes as a crash would, and the sweep that must finish after a fault, with every
row's result present exactly once (marked.py's program)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from checkpointed import squares
from marked import PROGRAM, executions, mark
from support import state_of, tasks_by_state, wait_for

WAIT_S = 300  # a generous guard on a loaded machine: the tests never depend on speed


def kill(pid: int, group: bool = False) -> None:
    """SIGKILL a process (or its process group) the test's own run started."""
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def proc_stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: [state, ppid, ...]; [] when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def alive(pid: int) -> bool:
    return proc_stat(pid)[:1] not in ([], ["Z"])  # a killed daemon may linger as a zombie


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill_task(state: dict, supervisor: str) -> None:
    """A running task's program, its task wrapper and the daemon's process above the wrapper
    (slurmstepd, sge_shepherd), all at once, as a crash of their host would."""
    parent = int(proc_stat(state["wrapper_pid"])[1])
    kill(state["pid"], group=True)
    kill(state["wrapper_pid"])
    if command_name(parent) == supervisor:
        kill(parent)


def by_index(record: dict) -> dict[int, dict]:
    return {task["index"]: task for task in record["tasks"]}


def time_limit_then_retry(project, where: Path, run: tuple[str, ...]) -> None:
    """Row 1 of three works on past its 3 s limit: failed, "timeout"; the retry completes it."""
    project.write("packed.py", PROGRAM)
    mark(where, "wait-1")
    done = project.freight(*run, "--json", "--time", "3s", "--sweep", "n=0,1,2", "packed.py", "{n}", str(where),
                           env={"FREIGHT_KILL_GRACE": "1"}, timeout=WAIT_S)
    assert done.returncode == 1, done.stderr
    record = json.loads(done.stdout)
    assert tasks_by_state(record) == {"succeeded": [0, 2], "failed": [1]}
    assert by_index(record)[1]["reason"] == "timeout"
    mark(where, "gate")
    finish_with_retry(project, where, {0: 1, 1: 2, 2: 1})


def finish_with_retry(project, where: Path, runs: dict[int, int]) -> None:
    """`freight retry` completes the sweep: every row succeeded, ran `runs[row]` times, and has
    its result exactly once."""
    retried = project.freight("retry", "--json", timeout=WAIT_S)
    assert retried.returncode == 0, retried.stderr
    assert tasks_by_state(json.loads(retried.stdout)) == {"succeeded": sorted(runs)}
    assert executions(where) == runs
    assert squares(project) == [(str(n), n * n) for n in sorted(runs)]


def sweep_with_rows_0_and_1_at_work(project, where: Path, run: tuple[str, ...]) -> str:
    """A four-row sweep run two at a time: rows 0 and 1 running (their programs at work until
    the gate opens), 2 and 3 waiting their turn. Its run folder."""
    project.write("packed.py", PROGRAM)
    mark(where, "wait-0", "wait-1")
    record = project.record(*run, "--no-wait", "--max-parallel", "2", "--sweep", "n=range:0:4",
                            "packed.py", "{n}", str(where))
    run_dir = record["run_dir"]
    wait_for(lambda: all(state_of(run_dir, row).get("state") == "running" and (where / "ran" / str(row)).exists()
                         for row in (0, 1)), seconds=WAIT_S)
    return run_dir


def after_a_crash_of_rows_0_and_1(project, where: Path) -> None:
    """The rest of a four-row sweep after rows 0 and 1 were lost: 2 and 3 finish, the retry
    reruns 0 and 1."""
    mark(where, "gate")
    done = project.freight("wait", "--json", timeout=WAIT_S)
    final = json.loads(done.stdout)
    why = [(task["index"], task["state"], task["reason"]) for task in final["tasks"]]
    assert tasks_by_state(final) == {"lost": [0, 1], "succeeded": [2, 3]}, why
    finish_with_retry(project, where, {0: 2, 1: 2, 2: 1, 3: 1})
