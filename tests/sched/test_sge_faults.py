"""Faults and preemption against the real single-host Son of Grid Engine (`bash ci/sge.sh up`):
a task over its time limit, an execution host that crashes and comes back during a sweep, a
warned task that checkpoints and is rescheduled (exit 99), freight killed halfway through a
submission, and a memory request no host can satisfy. In each, `freight status` says what
happened and `freight retry` completes the sweep with every row's result present exactly once.
(qdel is in test_sge.py.)"""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from checkpointed import executions as checkpointed_runs
from checkpointed import preemption_flags, squares, write_programs
from faults import (
    WAIT_S, after_a_crash_of_rows_0_and_1, alive, by_index, command_name, kill, kill_task,
    sweep_with_rows_0_and_1_at_work, time_limit_then_retry,
)
from marked import PROGRAM, executions, mark, where  # noqa: F401 (where: a fixture)
from support import state_of, tasks_by_state, wait_for
from test_sge import delete_leftover_jobs, sge_cluster  # noqa: F401 (autouse: skip without Grid Engine, clean up)

from freight.runs.store import RunStore
from freight.sched.sge import SUBMISSIONS, job_name, qstat_scripts

RUN = ("run", "--target", "sge", "--env", "current")
EXECD_ENV = {"SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default",
             "SGE_EXECD_PIDFILE": "/var/run/gridengine/execd.pid"}  # as ci/sge.sh starts it


def submissions(record: dict) -> list[dict]:
    return json.loads((Path(record["run_dir"]) / SUBMISSIONS).read_text())


def test_a_task_over_its_time_limit_is_failed_and_retry_completes_the_sweep(project, where):  # noqa: F811
    time_limit_then_retry(project, where, RUN)


# -- an execution host that crashes and comes back -----------------------------------------------


def execd_pids() -> list[int]:
    return [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/comm")
            if command_name(int(p.parent.name)) == "sge_execd" and alive(int(p.parent.name))]


def crash_host(run_dir: str, rows: list[int]) -> None:
    """What a crash of the host does to these running tasks: sge_execd and each task's
    processes (program, task wrapper, its sge_shepherd) die at once, without a word."""
    for row in rows:
        kill_task(state_of(run_dir, row), "sge_shepherd")
    for pid in execd_pids():
        kill(pid)


def queue_ready() -> bool:
    """The queue instance has a load report from a live execd and no error or unknown state."""
    listed = subprocess.run(["qstat", "-f"], capture_output=True, text=True).stdout.splitlines()
    rows = [line.split() for line in listed if line.startswith("all.q@")]
    return bool(rows) and all(r[3] != "-NA-" and not (len(r) > 5 and set(r[5]) & set("uaEdD")) for r in rows)


def restart_execd() -> None:
    if not execd_pids():
        subprocess.run(["/usr/sbin/sge_execd"], env={**os.environ, **EXECD_ENV}, check=True)  # daemonizes
    wait_for(lambda: execd_pids() and queue_ready(), seconds=WAIT_S, interval=1)


@pytest.mark.skipif(os.geteuid() != 0, reason="stopping and starting sge_execd needs root (as in CI)")
def test_a_host_that_crashes_and_comes_back_during_a_sweep(project, where):  # noqa: F811
    run_dir = sweep_with_rows_0_and_1_at_work(project, where, RUN)
    try:
        crash_host(run_dir, [0, 1])
        during = by_index(project.record("status"))  # Grid Engine has not noticed yet: no lie either
        assert [during[row]["state"] for row in range(4)] == ["running", "running", "queued", "queued"]
    finally:
        restart_execd()  # it finds the dead tasks and reports them (qacct: failed 19)

    def lost() -> bool:
        now = by_index(project.record("status"))
        return [now[row]["state"] for row in (0, 1)] == ["lost", "lost"]
    wait_for(lost, seconds=WAIT_S, interval=1)
    now = by_index(project.record("status"))
    assert all(now[row]["reason"].startswith("node failure") for row in (0, 1))
    after_a_crash_of_rows_0_and_1(project, where)


# -- preemption -------------------------------------------------------------------------------


def test_a_warned_task_checkpoints_and_grid_engine_reruns_it(project, where):  # noqa: F811
    write_programs(project)
    mark(where, "quick-1")
    record = project.record(*RUN, "--no-wait", *preemption_flags(where, time="20s", signal="USR1@12"),
                            "--sweep", "n=0,1", "work.py", "{n}", str(where))
    script = (Path(record["run_dir"]) / "scripts" / "sge-1.sh").read_text()
    assert "#$ -l s_rt=0:00:08" in script and "#$ -r y" in script  # SIGUSR1 8 s in; rerunnable

    def requeued() -> bool:
        task = by_index(project.record("status"))[0]
        return task["state"] == "queued" and (task["reason"] or "").startswith("requeued (1 of 2): SIGUSR1")
    wait_for(requeued, seconds=WAIT_S, interval=0.5)
    done = project.freight("wait", "--json", timeout=WAIT_S)  # Grid Engine reruns it (exit 99)
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    assert tasks_by_state(final) == {"succeeded": [0, 1]}
    assert [t["attempt"] for t in final["tasks"]] == [2, 1]
    assert checkpointed_runs(where) == {0: ["ran 0 restarts=0", "ran 0 restarts=1"], 1: ["ran 1 restarts=0"]}
    assert squares(project) == [("0", 0), ("1", 1)]
    assert [entry["job"] for entry in submissions(record)] == [final["tasks"][0]["scheduler_id"].split(".")[0]]


# -- freight killed halfway through a submission ----------------------------------------------


@pytest.mark.parametrize("crash_at", ["submitting", "submitted"])
def test_freight_killed_while_submitting_never_submits_twice(project, where, crash_at):  # noqa: F811
    project.write("packed.py", PROGRAM)
    project.write("freight.toml", '[targets.sge]\nqsub_args = ["-h"]\n')  # held until released
    killed = project.freight(*RUN, "--no-wait", "--sweep", "n=0,1,2", "packed.py", "{n}", str(where),
                             env={"FREIGHT_TEST_CRASH": crash_at})
    assert killed.returncode == -signal.SIGKILL
    run = RunStore(project.root / ".freight").list_runs()[0]
    [entry] = json.loads((run.paths.root / SUBMISSIONS).read_text())
    assert entry["job"] is None  # recorded before qsub; its job id never was
    status = project.record("status")
    if crash_at == "submitting":  # qsub never ran: nothing to find, the tasks were never queued
        assert tasks_by_state(status) == {"pending": [0, 1, 2]}
        assert json.loads((run.paths.root / SUBMISSIONS).read_text()) == []
        assert project.freight("retry", "--no-wait").returncode == 0
    else:  # qsub ran: status finds the job by its name and script, and records it
        job = qstat_scripts(job_name(run.id))[entry["script"]]
        assert tasks_by_state(status) == {"queued": [0, 1, 2]}
        assert [t["scheduler_id"] for t in status["tasks"]] == [f"{job}.{k}" for k in (1, 2, 3)]
        assert "nothing to retry" in project.freight("retry", "--no-wait").stderr
    [submitted] = json.loads((run.paths.root / SUBMISSIONS).read_text())
    assert list(qstat_scripts(job_name(run.id)).values()) == [submitted["job"]]  # one job, whichever way
    subprocess.run(["qrls", submitted["job"]], check=True, capture_output=True)
    done = project.freight("wait", "--json", timeout=WAIT_S)
    assert tasks_by_state(json.loads(done.stdout)) == {"succeeded": [0, 1, 2]}
    assert executions(where) == {0: 1, 1: 1, 2: 1}


def test_more_memory_than_any_host_has_is_exit_2_quoting_qsub(project):
    project.write("t.py", "print(1)\n")
    project.write("freight.toml", '[targets.sge]\nmem_resource = "mem_free"\n')  # the hosts' free memory
    done = project.freight(*RUN, "--mem", "100000000M", "t.py")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Grid Engine refused the job: Unable to run job: error: no suitable queues" in lines[0]
