"""A Grid Engine queue instance in error state (E) starts no job until a manager clears it, and
the run's tasks just pend: `freight status` says why, in one line with the fix, from one extra
`qstat -f -qs E -explain E` per poll, asked only while tasks pend.

The real case: a private queue (freight-qerr.q, on this host) whose prolog fails, which is how
Grid Engine puts a queue in error state. Only jobs that ask for the FORCED complex freight_qerr
may run there, so no other test's job ever lands in it; queue and complex are removed after.
The parsing is also checked on qstat's documented output."""

import subprocess
import time

import pytest
from clusters import need_sge

from freight.runs.watch import explain_waiting
from freight.sched.sge import parse_queue_errors, queue_error_note
from freight.spec.state import TaskState

# `qstat -f -explain E` as Grid Engine prints it (and as site guides quote it)
DOCUMENTED = """queuename                      qtype resv/used/tot. load_avg arch          states
---------------------------------------------------------------------------------
all.q@compute-0-0.local        BIP   0/0/24         0.00     linux-x64     E
        queue all.q marked QERROR as result of job 542032's failure at host compute-0-0.local
        queue all.q marked QERROR as result of job 542033's failure at host compute-0-0.local
---------------------------------------------------------------------------------
all.q@compute-0-1.local        BIP   0/3/24         2.01     linux-x64
---------------------------------------------------------------------------------
gpu.q@compute-0-2.local        BIP   0/0/4          -NA-     -NA-          auE

############################################################################
 - PENDING JOBS - PENDING JOBS - PENDING JOBS - PENDING JOBS - PENDING JOBS
############################################################################
    542040 0.55500 train      ada          qw    11/23/2026 10:00:00     1 1-4:1
"""


def test_queue_instances_in_error_state_and_why():
    assert parse_queue_errors(DOCUMENTED) == {
        "all.q@compute-0-0.local": "queue all.q marked QERROR as result of job 542032's failure at host compute-0-0.local",
        "gpu.q@compute-0-2.local": "",
    }
    assert parse_queue_errors("") == {}  # no queue in error state: qstat -qs E prints nothing


def test_the_note_is_one_line_with_the_fix():
    note = queue_error_note(parse_queue_errors(DOCUMENTED))
    assert note == ("queue all.q@compute-0-0.local is in error state: queue all.q marked QERROR as result of job "
                    "542032's failure at host compute-0-0.local; fix: qmod -c 'all.q@compute-0-0.local' as an SGE "
                    "manager (and 1 more queue instance(s) in error state)")
    assert queue_error_note({}) is None


class Status:  # the fields explain_waiting reads of a runs.store.TaskStatus
    def __init__(self, state, reason=None):
        self.state, self.reason = state, reason


class Waiting:
    def why_pending(self, run):
        return "queue q@h is in error state: x; fix: qmod -c 'q@h' as an SGE manager"


def test_the_note_goes_to_queued_tasks_without_a_reason_of_their_own():
    statuses = [Status(TaskState.queued), Status(TaskState.running), Status(TaskState.queued, "held")]
    explain_waiting(Waiting(), None, statuses)
    assert [s.reason for s in statuses] == [Waiting().why_pending(None), None, "held"]
    explain_waiting(object(), None, statuses[:1])  # a target that cannot tell: nothing changes


# -- the real Grid Engine -----------------------------------------------------------------------

QUEUE, COMPLEX = "freight-qerr.q", "freight_qerr"


def qconf(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["qconf", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 or not check, done.stdout + done.stderr
    return done


def host() -> str:
    return qconf("-sq", "all.q").stdout.split("hostlist", 1)[1].split()[0]


@pytest.fixture
def queue_in_error(tmp_path):
    """A queue that goes into error state when a job starts in it (its prolog fails)."""
    need_sge()
    complexes = qconf("-sc").stdout
    if COMPLEX not in complexes:
        lines = [line for line in complexes.splitlines() if line.strip() and not line.startswith("#")]
        (tmp_path / "complexes").write_text("\n".join([*lines, f"{COMPLEX} fqerr BOOL == FORCED NO FALSE 0"]) + "\n")
        qconf("-Mc", str(tmp_path / "complexes"))
    changed = {"qname": QUEUE, "slots": "1", "prolog": "/bin/false", "complex_values": f"{COMPLEX}=TRUE"}
    template = qconf("-sq", "all.q").stdout.replace("\\\n", " ").splitlines()  # all.q's, less what differs
    (tmp_path / "queue").write_text("".join(
        f"{key} {changed.get(key, rest)}\n" for key, _, rest in (line.partition(" ") for line in template) if key))
    qconf("-dq", QUEUE, check=False)  # a leftover of an interrupted run
    qconf("-Aq", str(tmp_path / "queue"))
    try:
        yield QUEUE
    finally:
        qconf("-dq", QUEUE, check=False)
        complexes = qconf("-sc").stdout
        kept = [line for line in complexes.splitlines()
                if line.strip() and not line.startswith("#") and not line.startswith(COMPLEX + " ")]
        (tmp_path / "complexes").write_text("\n".join(kept) + "\n")
        qconf("-Mc", str(tmp_path / "complexes"), check=False)


def test_freight_status_says_which_queue_is_in_error_state_and_how_to_clear_it(project, queue_in_error):
    project.write("t.py", "print(1)\n")
    project.write("freight.toml", f'[targets.sge]\nqsub_args = ["-q {QUEUE}", "-l {COMPLEX}=TRUE"]\n')
    project.freight("run", "--target", "sge", "--env", "current", "--no-wait", "t.py", check=True)
    try:
        deadline, reasons = time.monotonic() + 120, set()
        while time.monotonic() < deadline:
            record = project.record("status")
            reasons = {task["reason"] for task in record["tasks"]}
            if any(r and "is in error state" in r for r in reasons):
                break
            time.sleep(2)
        [task] = record["tasks"]
        assert task["state"] == "queued"
        instance = f"{QUEUE}@{host()}"
        assert task["reason"].startswith(f"queue {instance} is in error state: queue {QUEUE} marked QERROR "
                                         "as result of job "), task
        assert task["reason"].endswith(f"; fix: qmod -c '{instance}' as an SGE manager")
        shown = project.freight("status")
        print(shown.stderr + shown.stdout)  # for the record: pytest -s shows it
        assert f"queue {instance} is in error state" in shown.stdout, shown.stdout
    finally:
        project.freight("cancel")


def test_following_a_run_says_why_it_waits_once():
    import io

    from rich.console import Console

    from freight.runs.watch import _tell_waiting

    console = Console(file=io.StringIO(), width=300)
    said = _tell_waiting(console, Waiting(), None, None)
    said = _tell_waiting(console, Waiting(), None, said)  # the same note is not said again
    _tell_waiting(console, object(), None, said)
    assert console.file.getvalue() == f"waiting: {Waiting().why_pending(None)}\n"
