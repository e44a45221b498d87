"""Preemption inside the task wrapper, run for real: `python -m freight.task` with a real
program, real signals and its own timer: the warning ahead of the time limit, the checkpoint
command, requeueing up to max_requeue, and what each scheduler gets back (freight/preempt.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import wait_for

from freight.errors import InputError
from freight.preempt import Plan, carried_requeues, parse_signal
from freight.runs.store import RunStore
from freight.spec.job import Job, Preemption, Task

# Waits for the warning; on it, notes the signal and exits with argv[1] (or keeps going with "stay").
PROGRAM = """
import os, pathlib, signal, sys, time
task = pathlib.Path(os.environ["FREIGHT_TASK_DIR"])
def warned(signum, frame):
    with open(task / "warnings", "a") as f:
        f.write(signal.Signals(signum).name + "\\n")
    if sys.argv[1] != "stay":
        sys.exit(int(sys.argv[1]))
signal.signal(signal.SIGUSR1, warned)
(task / "ready").write_text("")
while True:
    time.sleep(0.05)
"""

# The checkpoint command: what it was given, and its own output in the task's stdout log.
CHECKPOINT = """
import os, pathlib, sys, time
pathlib.Path(os.environ["FREIGHT_TASK_DIR"], "checkpointed").write_text(
    f"{sys.argv[1]} {os.environ['FREIGHT_TASK_INDEX']} {os.getcwd()}")
print("checkpoint saved", flush=True)
if len(sys.argv) > 2:
    time.sleep(float(sys.argv[2]))
"""


def make_run(tmp_path: Path, exit_code: str, *, time_s=600, checkpoint_args=(), **preemption):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "prog.py").write_text(textwrap.dedent(PROGRAM))
    (tmp_path / "ckpt.py").write_text(textwrap.dedent(CHECKPOINT))
    if checkpoint_args:
        preemption["checkpoint_cmd"] = ["python", "ckpt.py", "{n}", *checkpoint_args]
    job = Job(name="p", command=["python", "prog.py", exit_code], workdir=str(tmp_path),
              python=sys.executable, tasks=[Task(index=0, params={"n": "7"})],
              resources={"time_s": time_s}, preemption=Preemption(**preemption))
    return RunStore(tmp_path / ".freight").create_run(job, "local")


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FREIGHT_", "SLURM_", "SGE_"))}
    return {**clean, "FREIGHT_KILL_GRACE": "2", **extra}


def run_wrapper(run, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "freight.task", str(run.paths.root), "--index", "0"],
                          env=env(**extra), capture_output=True, text=True, timeout=180)


def state(run) -> dict:
    return json.loads(run.paths.state(0).read_text())


def task_file(run, name: str) -> str:
    return (run.paths.task_dir(0) / name).read_text()


def test_the_wrappers_own_warning_reaches_the_program_and_runs_the_checkpoint(tmp_path):
    run = make_run(tmp_path, "0", time_s=8, signal="USR1@5", checkpoint_args=["0"])
    done = run_wrapper(run)
    assert done.returncode == 0, done.stderr
    assert state(run)["state"] == "succeeded"
    assert task_file(run, "warnings") == "SIGUSR1\n"  # once, 5 s before the 8 s limit
    assert task_file(run, "checkpointed") == f"7 0 {tmp_path}"  # placeholders, env and workdir
    assert "checkpoint saved" in task_file(run, "stdout.log")
    log = task_file(run, "stderr.log")
    assert "freight: SIGUSR1 (the wrapper's own, 5 s before the time limit) passed to the program" in log
    assert "the checkpoint command exited 0" in log


def test_a_warning_from_outside_is_not_repeated_by_the_wrappers_timer(tmp_path):
    run = make_run(tmp_path, "stay", time_s=10, signal="USR1@6", checkpoint_args=["0"])
    wrapper = subprocess.Popen([sys.executable, "-m", "freight.task", str(run.paths.root), "--index", "0"],
                               env=env())
    wait_for(lambda: (run.paths.task_dir(0) / "ready").exists())
    wrapper.send_signal(signal.SIGUSR1)  # as Slurm's --signal=B:USR1@6 would, a little early
    assert wrapper.wait(timeout=120) == 128 + signal.SIGTERM  # the time limit ends it
    assert task_file(run, "warnings") == "SIGUSR1\n"  # the wrapper's own, due at 4 s, was skipped
    log = task_file(run, "stderr.log")
    assert "SIGUSR1 (from outside)" in log and "the wrapper's own" not in log
    assert log.count("the checkpoint command exited 0") == 1
    assert (state(run)["state"], state(run)["reason"]) == ("failed", "timeout")


def test_requeue_after_the_warning_counts_up_to_max_requeue_then_fails(tmp_path):
    run = make_run(tmp_path, "3", time_s=8, signal="USR1@5", requeue=True, max_requeue=2)
    for attempt in (1, 2):  # freight resubmits each (runs/repair.py); here by hand
        done = run_wrapper(run)
        assert done.returncode == 3, done.stderr
        found = state(run)
        assert (found["state"], found["requeue_by"], found["requeues"], found["attempt"]) == (
            "queued", "freight", attempt, attempt)
        assert found["reason"] == f"requeued ({attempt} of 2): SIGUSR1 ahead of the limit, then exit 3"
    assert run_wrapper(run).returncode == 3
    final = state(run)
    assert final["state"] == "failed" and final["attempt"] == 3
    assert final["reason"] == "requeued 2 times (max_requeue); last attempt: exit 3"
    assert task_file(run, "warnings") == "SIGUSR1\n" * 3


def test_on_grid_engine_a_requeue_exits_99_and_the_programs_own_99_does_not(tmp_path):
    run = make_run(tmp_path, "3", time_s=8, signal="USR1@5", requeue=True)
    assert run_wrapper(run, FREIGHT_SCHEDULER="sge").returncode == 99  # Grid Engine reschedules
    assert (state(run)["state"], state(run)["requeue_by"]) == ("queued", "sge")

    plain = make_run(tmp_path / "plain", "99", time_s=8, signal="USR1@5")
    done = run_wrapper(plain, FREIGHT_SCHEDULER="sge")
    assert done.returncode == 1  # not 99: that would run it again, 100 would hold it in error
    assert (state(plain)["state"], state(plain)["exit_code"]) == ("failed", 99)


def test_a_checkpoint_command_over_its_time_limit_is_killed_and_the_task_goes_on(tmp_path):
    run = make_run(tmp_path, "0", time_s=8, signal="USR1@5", checkpoint_args=["60"])
    done = run_wrapper(run, FREIGHT_CHECKPOINT_TIMEOUT="1")
    assert done.returncode == 0, done.stderr
    assert state(run)["state"] == "succeeded"
    assert "the checkpoint command ran over 1 s and was killed" in task_file(run, "stderr.log")


def test_a_task_requeued_more_often_than_allowed_is_not_run_again(tmp_path):
    run = make_run(tmp_path, "0", signal="USR1@5", requeue=True, max_requeue=2)
    run.paths.task_dir(0).mkdir(parents=True)
    # What a third requeue by Slurm itself (preemption) leaves behind.
    run.paths.state(0).write_text(json.dumps({"state": "queued", "requeues": 3, "attempt": 3}))
    assert run_wrapper(run).returncode == 1
    final = state(run)
    assert (final["state"], final["attempt"]) == ("failed", 4)
    assert final["reason"].startswith("requeued 3 times, more than max_requeue (2)")
    assert not (run.paths.task_dir(0) / "ready").exists()  # the program never started


@pytest.mark.parametrize("text, expected", [
    ("USR1@90", (signal.SIGUSR1, 90)), ("SIGUSR2", (signal.SIGUSR2, 60)), ("usr1@5", (signal.SIGUSR1, 5)),
    (None, (None, 0)),
])
def test_parse_signal(text, expected):
    assert parse_signal(text) == expected


def test_an_unknown_signal_is_an_input_error():
    with pytest.raises(InputError, match="unknown signal 'NOPE@3'"):
        parse_signal("NOPE@3")


def test_the_own_warning_needs_a_signal_and_a_limit_longer_than_its_lead():
    plan = Plan.from_job({"preemption": {"signal": "USR1@90"}})
    assert (plan.warn_after(600), plan.warn_after(90), plan.warn_after(None)) == (510.0, None, None)
    assert Plan.from_job({}).warn_after(600) is None


def test_requeues_carry_over_a_requeue_not_a_finished_attempt():
    assert carried_requeues({"state": "queued", "requeues": 2}) == 2
    assert carried_requeues({"state": "running", "requeues": 1}) == 1  # cut off: Slurm requeued it
    assert carried_requeues({"state": "failed", "requeues": 2}) == 0  # `freight retry` starts afresh
    assert carried_requeues(None) == 0


def test_what_each_scheduler_is_asked_for():
    from freight.sched.sge import soft_limit
    from freight.sched.slurm import batch_signal

    def job(signal, time_s=600):
        return Job(name="p", command=["x"], workdir="/", resources={"time_s": time_s},
                   preemption=Preemption(signal=signal))
    assert (batch_signal("SIGUSR1@90"), batch_signal("usr2"), batch_signal(None)) == ("B:USR1@90", "B:USR2", None)
    # Grid Engine can aim only SIGUSR1 (s_rt) at a time; the wrapper's own timer sends the rest.
    assert (soft_limit(job("USR1@90")), soft_limit(job("USR2@90")), soft_limit(job("USR1@90", 60))) == (
        "0:08:30", None, None)
