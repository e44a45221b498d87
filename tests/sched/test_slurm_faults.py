"""Faults and preemption against the real single-node Slurm (`bash ci/slurm.sh up`): a task
over its time limit, a node that crashes and comes back during a sweep, a warned task that
checkpoints and is requeued (by the task wrapper, or by Slurm itself as on preemption), freight
killed halfway through a submission, and requests no node can satisfy. In each, `freight
status` says what happened and `freight retry` completes the sweep with every row's result
present exactly once. (scancel is in test_slurm.py.)

Skipped, with the command that starts the cluster, where it is not up; failed instead in CI."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from checkpointed import executions as checkpointed_runs
from checkpointed import preemption_flags, squares, write_programs
from faults import (
    WAIT_S, after_a_crash_of_rows_0_and_1, alive, by_index, kill, kill_task, sweep_with_rows_0_and_1_at_work,
    time_limit_then_retry,
)
from marked import PROGRAM, executions, mark, where  # noqa: F401 (where: a fixture)
from support import state_of, tasks_by_state, wait_for
from test_slurm import arrays, slurm  # noqa: F401 (slurm: the fixture that skips without a cluster)

from freight.runs.store import RunStore
from freight.sched.slurm import squeue_scripts

RUN = ("run", "--target", "slurm", "--env", "current")


def start_now(element: str) -> None:
    """Slurm holds a requeued job back for two minutes (BeginTime); an admin may let it go."""
    wait_for(lambda: "JobState=PENDING" in show_job(element), seconds=WAIT_S)
    subprocess.run(["scontrol", "update", f"JobId={element}", "StartTime=now"], check=True)


def show_job(element: str) -> str:
    return subprocess.run(["scontrol", "show", "job", "-o", element], capture_output=True, text=True).stdout


def test_a_task_over_its_time_limit_is_failed_and_retry_completes_the_sweep(project, slurm, where):  # noqa: F811
    time_limit_then_retry(project, where, RUN)


# -- a node that crashes and comes back --------------------------------------------------------


def slurm_config(key: str) -> str:
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    return next(line.split("=", 1)[1].strip() for line in config.splitlines() if line.startswith(key + " "))


def node_name() -> str:
    return subprocess.run(["sinfo", "-h", "-o", "%N"], capture_output=True, text=True, check=True).stdout.strip()


def crash_node(run_dir: str, rows: list[int]) -> None:
    """What a crash of the node does to these running tasks: slurmd and each task's processes
    (program, task wrapper, its slurmstepd) die at once, without a word; the controller then
    marks the node down, as it would after SlurmdTimeout, and the jobs NODE_FAIL."""
    for row in rows:
        kill_task(state_of(run_dir, row), "slurmstepd")
    kill(slurmd_pid())
    subprocess.run(["scontrol", "update", f"NodeName={node_name()}", "State=DOWN",
                    "Reason=freight test: node crash"], check=True)


def node_ready() -> bool:
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip()
    if state.startswith("down") or state.startswith("drain"):  # ReturnToService=2 does it; else:
        subprocess.run(["scontrol", "update", f"NodeName={node_name()}", "State=RESUME"], capture_output=True)
    return state in ("idle", "mix", "alloc", "comp")


def slurmd_pid() -> int:
    try:
        return int(Path(slurm_config("SlurmdPidFile")).read_text())
    except (OSError, ValueError):
        return 0


def restart_node() -> None:
    if not alive(slurmd_pid()):
        subprocess.run(["slurmd"], check=True)  # as ci/slurm.sh starts it; it daemonizes
    wait_for(node_ready, seconds=WAIT_S, interval=1)


@pytest.mark.skipif(os.geteuid() != 0, reason="stopping and starting slurmd needs root (as in CI)")
def test_a_node_that_crashes_and_comes_back_during_a_sweep(project, slurm, where):  # noqa: F811
    run_dir = sweep_with_rows_0_and_1_at_work(project, where, RUN)
    try:
        crash_node(run_dir, [0, 1])
        during = by_index(project.record("status"))
        assert [during[row]["state"] for row in range(4)] == ["lost", "lost", "queued", "queued"]
        assert all("node failure" in during[row]["reason"] and "NODE_FAIL" in during[row]["reason"] for row in (0, 1))
    finally:
        restart_node()
    after_a_crash_of_rows_0_and_1(project, where)


# -- preemption -----------------------------------------------------------------------------


def test_a_warned_task_checkpoints_and_slurm_requeues_it(project, slurm, where):  # noqa: F811
    write_programs(project)
    mark(where, "quick-1")
    # Slurm's limit is a whole minute; its USR1 comes up to 60 s early: the wrapper's own
    # warning (10 s in) or Slurm's, whichever first, and only once.
    record = project.record(*RUN, "--no-wait", *preemption_flags(where, time="30s", signal="USR1@20"),
                            "--sweep", "n=0,1", "work.py", "{n}", str(where))
    script = Path(arrays(project, record["id"])[0]["script"]).read_text()
    assert "#SBATCH --signal=B:USR1@20" in script and "#SBATCH --requeue" in script
    element = by_index(record)[0]["scheduler_id"]
    wait_for(lambda: "Restarts=1" in show_job(element), seconds=WAIT_S)
    queued = by_index(project.record("status"))[0]
    assert queued["state"] == "queued" and queued["reason"].startswith("requeued (1 of 2): SIGUSR1")
    start_now(element)
    done = project.freight("wait", "--json", timeout=WAIT_S)
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    assert tasks_by_state(final) == {"succeeded": [0, 1]}
    assert [t["attempt"] for t in final["tasks"]] == [2, 1]
    assert checkpointed_runs(where) == {0: ["ran 0 restarts=-", "ran 0 restarts=1"], 1: ["ran 1 restarts=-"]}
    assert (where / "saved" / "0").exists() and squares(project) == [("0", 0), ("1", 1)]
    assert "saved 0" in (Path(record["run_dir"]) / "tasks/0/stdout.log").read_text()


def test_a_task_slurm_requeues_itself_is_queued_not_cancelled_and_runs_again(project, slurm, where):  # noqa: F811
    write_programs(project)  # no warning comes: work.py works until Slurm requeues it
    record = project.record(*RUN, "--no-wait", "--requeue", "work.py", "0", str(where))
    element = record["tasks"][0]["scheduler_id"]
    wait_for(lambda: (where / "working" / "0").exists(), seconds=WAIT_S)
    mark(where, "quick-0")  # the next run finishes at once
    subprocess.run(["scontrol", "requeue", element], check=True)  # as preemption (PreemptMode=REQUEUE) does
    wait_for(lambda: state_of(record["run_dir"], 0).get("state") == "queued", seconds=WAIT_S)
    [queued] = project.record("status")["tasks"]
    assert queued["state"] == "queued"
    assert queued["reason"] == "requeued (1 of 3): Slurm requeued the job (preemption or scontrol requeue)"
    start_now(element)
    done = project.freight("wait", "--json", timeout=WAIT_S)
    assert done.returncode == 0, done.stderr
    [task] = json.loads(done.stdout)["tasks"]
    assert (task["state"], task["attempt"]) == ("succeeded", 2)
    assert checkpointed_runs(where) == {0: ["ran 0 restarts=-", "ran 0 restarts=1"]}


# -- freight killed halfway through a submission --------------------------------------------


@pytest.mark.parametrize("crash_at", ["submitting", "submitted"])
def test_freight_killed_while_submitting_never_submits_twice(project, slurm, where, crash_at):  # noqa: F811
    project.write("packed.py", PROGRAM)
    project.write("freight.toml", '[targets.slurm]\nsbatch_args = ["--hold"]\n')  # pending until released
    killed = project.freight(*RUN, "--no-wait", "--sweep", "n=0,1,2", "packed.py", "{n}", str(where),
                             env={"FREIGHT_TEST_CRASH": crash_at})
    assert killed.returncode == -signal.SIGKILL  # after the script was written, before the id was recorded
    run_id = RunStore(project.root / ".freight").list_runs()[0].id
    [entry] = arrays(project, run_id)
    assert entry["job"] is None  # recorded before sbatch; its job id never was
    status = project.record("status")
    if crash_at == "submitting":  # sbatch never ran: nothing to find, the tasks were never queued
        assert tasks_by_state(status) == {"pending": [0, 1, 2]} and arrays(project, run_id) == []
        assert project.freight("retry", "--no-wait").returncode == 0
    else:  # sbatch ran: status finds the array by its comment and script, and records it
        [job] = [job for script, job in squeue_scripts(run_id).items() if script == entry["script"]]
        assert tasks_by_state(status) == {"queued": [0, 1, 2]}
        assert [t["scheduler_id"] for t in status["tasks"]] == [f"{job}_{i}" for i in range(3)]
        assert "nothing to retry" in project.freight("retry", "--no-wait").stderr
    [array] = arrays(project, run_id)  # one array, whichever way
    assert len(squeue_scripts(run_id)) == 1
    subprocess.run(["scontrol", "release", array["job"]], check=True)
    done = project.freight("wait", "--json", timeout=WAIT_S)
    assert tasks_by_state(json.loads(done.stdout)) == {"succeeded": [0, 1, 2]}
    assert executions(where) == {0: 1, 1: 1, 2: 1}


# -- requests no node can satisfy -----------------------------------------------------------


@pytest.mark.parametrize("flags, said", [
    (["--cpus", "1000"], "Slurm cannot run this job: Requested node configuration is not available"),
    (["--mem", "100000000M"], "Slurm cannot run this job: Requested node configuration is not available"),
    (["--gpus", "1", "--gpu-type", "a100"], "sbatch refused the job: Invalid generic resource (gres) specification"),
])
def test_a_request_no_node_can_satisfy_is_one_line_quoting_slurm(project, slurm, flags, said):  # noqa: F811
    project.write("t.py", "print(1)\n")
    done = project.freight(*RUN, *flags, "t.py")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("freight: error:") and said in lines[0], done.stderr
    assert squeue_scripts(project.record("runs")[0]["id"]) == {}  # nothing was queued


def test_the_older_targets_slurm_signal_is_the_preemption_signal(project, slurm):  # noqa: F811
    project.write("t.py", "print(1)\n")
    project.write("freight.toml", '[targets.slurm]\nsignal = "USR1@20"\n')
    record = project.record(*RUN, "--time", "60s", "t.py")
    assert tasks_by_state(record) == {"succeeded": [0]}
    job = json.loads((Path(record["run_dir"]) / "job.json").read_text())
    assert job["preemption"]["signal"] == "USR1@20"  # so the task wrapper warns and checkpoints on it
    assert "#SBATCH --signal=B:USR1@20" in Path(arrays(project, record["id"])[0]["script"]).read_text()
    done = project.freight(*RUN, "--signal", "USR2@30", "t.py")
    assert done.returncode == 2 and "disagree" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_requeue_slurm_refuses_is_resubmitted_by_freight(project, slurm, where):  # noqa: F811
    write_programs(project)
    project.write("freight.toml", '[targets.slurm]\nsbatch_args = ["--no-requeue"]\n')  # passthrough wins
    done = project.freight(*RUN, "--json", *preemption_flags(where, time="30s", signal="USR1@20"),
                           "--sweep", "n=0", "work.py", "{n}", str(where), timeout=WAIT_S)
    assert done.returncode == 0, done.stderr
    [task] = json.loads(done.stdout)["tasks"]
    assert (task["state"], task["attempt"]) == ("succeeded", 2)
    assert checkpointed_runs(where) == {0: ["ran 0 restarts=-", "ran 0 restarts=-"]}  # a new job, not a restart
    [first, second] = arrays(project, project.record("status")["id"])
    assert first["job"] != second["job"] and second["array"] == "0"
    log = (Path(json.loads(done.stdout)["run_dir"]) / "tasks/0/stderr.log").read_text()
    assert "scontrol requeue failed" in log
