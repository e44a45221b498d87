"""Preemption on the local target, through the CLI: the task wrapper warns ahead of the time
limit, the checkpoint command runs, and a requeued task is resubmitted by freight itself
(runs/repair.py) until it finishes, or until --max-requeue is spent."""

import json

from checkpointed import executions, preemption_flags, squares, write_programs
from marked import mark, where  # noqa: F401 (where: a fixture)
from support import state_of, tasks_by_state, wait_for


def test_a_warned_task_checkpoints_is_requeued_by_freight_and_resumes(project, where):  # noqa: F811
    write_programs(project)
    mark(where, "quick-1")
    record = project.record("run", "--env", "current", *preemption_flags(where, time="8s", signal="USR1@5"),
                            "--sweep", "n=0,1", "work.py", "{n}", str(where))
    assert tasks_by_state(record) == {"succeeded": [0, 1]}
    assert [t["attempt"] for t in record["tasks"]] == [2, 1]
    assert executions(where) == {0: ["ran 0 restarts=-"] * 2, 1: ["ran 1 restarts=-"]}
    assert (where / "warned" / "0").read_text() == "SIGUSR1"
    assert squares(project) == [("0", 0), ("1", 1)]  # each row's result, once
    stdout = (project.root / record["run_dir"] / "tasks/0/stdout.log").read_text()
    assert "saved 0" in stdout  # the checkpoint command's output, in the task's own log


def test_a_task_requeued_max_requeue_times_then_fails_with_the_reason(project, where):  # noqa: F811
    write_programs(project)
    done = project.freight("run", "--json", "--env", "current", "--time", "6s", "--signal", "USR1@3",
                           "--requeue", "--max-requeue", "1", "work.py", "0", str(where))
    assert done.returncode == 1, done.stderr
    [task] = json.loads(done.stdout)["tasks"]
    assert (task["state"], task["attempt"]) == ("failed", 2)
    assert task["reason"] == "requeued 1 times (max_requeue); last attempt: exit 3"
    assert len(executions(where)[0]) == 2


def test_preemption_settings_a_target_cannot_honour_are_one_line_errors(project):
    project.write("t.py", "print(1)\n")
    for flags, said in [
        (["--checkpoint-cmd", "python save.py"], "a checkpoint command runs when the preemption signal arrives"),
        (["--signal", "USR1@90", "--time", "60s"], "the signal comes 90 s before the time limit, which is only 60 s"),
        (["--signal", "KILL@10"], "the preemption signal cannot be SIGKILL"),
        (["--signal", "NOPE@10"], "unknown signal 'NOPE@10'"),
    ]:
        done = project.freight("run", "--env", "current", *flags, "t.py")
        assert done.returncode == 2, (flags, done.stderr)
        assert said in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_cancel_stops_a_task_waiting_to_be_resubmitted(project, where):  # noqa: F811
    write_programs(project)
    record = project.record("run", "--no-wait", "--env", "current", "--time", "6s", "--signal", "USR1@3",
                            "--requeue", "work.py", "0", str(where))
    wait_for(lambda: state_of(record["run_dir"], 0).get("requeue_by") == "freight", seconds=120)
    assert project.freight("cancel").returncode == 0
    [task] = project.record("status")["tasks"]
    assert (task["state"], task["reason"]) == ("cancelled", "cancelled while waiting to be resubmitted")
    assert len(executions(where)[0]) == 1  # never resubmitted
