"""The run store against real SQLite files, real task wrappers and real processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from freight.errors import InputError
from freight.runs.store import RunStore
from freight.spec.job import Job, Task
from freight.spec.state import TaskState

SLEEPER = "import pathlib, os, time\n(pathlib.Path(os.environ['FREIGHT_TASK_DIR']) / 'ready').touch()\ntime.sleep(300)\n"


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / ".freight")


def make_job(tmp_path: Path, command: list[str], n_tasks: int = 1, name: str = "t") -> Job:
    tasks = [Task(index=i, params={"i": i}) for i in range(n_tasks)]
    return Job(name=name, command=command, workdir=str(tmp_path), tasks=tasks)


def run_wrapper(run, index: int) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREIGHT_")}
    argv = [sys.executable, "-m", "freight.task", str(run.paths.root), "--index", str(index)]
    return subprocess.run(argv, env=env, capture_output=True, timeout=120).returncode


def states(statuses) -> list[str]:
    return [s.state.value for s in statuses]


# Fails (exit 3) for the task whose param i is 1, succeeds for the others.
EXIT_BY_INDEX = [sys.executable, "-c", "import sys; sys.exit(3 if sys.argv[1] == '1' else 0)", "{i}"]


def test_create_run_writes_the_folder_and_rows(store, tmp_path):
    job = make_job(tmp_path, ["echo", "{i}"], n_tasks=3, name="my sweep")
    run = store.create_run(job, "local")
    assert run.id.startswith("my-sweep-") and run.n_tasks == 3 and run.target == "local"
    assert run.paths.root == store.home / "runs" / run.id and run.paths.scripts.is_dir()
    assert "tasks" not in json.loads(run.paths.job.read_text())
    lines = run.paths.tasks.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"index": i, "params": {"i": i}} for i in range(3)]
    assert run.job == job and [t.params for t in run.tasks()] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert states(RunStore(store.home).refresh(run.id)) == ["pending"] * 3
    assert (store.home / "store.db").exists()


def test_store_uses_wal(store, tmp_path):
    store.create_run(make_job(tmp_path, ["true"]), "local")
    with sqlite3.connect(store.home / "store.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_get_run_by_latest_id_and_prefix(store, tmp_path):
    first = store.create_run(make_job(tmp_path, ["true"], name="alpha"), "local")
    second = store.create_run(make_job(tmp_path, ["true"], name="beta"), "local")
    third = store.create_run(make_job(tmp_path, ["true"], name="beta"), "local", run_id="beta-x")
    assert store.get_run().id == third.id
    assert store.get_run(first.id).id == first.id
    assert store.get_run("alp").id == first.id
    assert store.get_run("beta-x").id == "beta-x"  # exact id, though it is a prefix of nothing else
    assert [r.id for r in store.list_runs()] == [first.id, second.id, third.id]
    with pytest.raises(InputError, match="ambiguous"):
        store.get_run("beta")
    with pytest.raises(InputError, match="no run 'gamma'"):
        store.get_run("gamma")


def test_an_empty_store_says_so(store):
    with pytest.raises(InputError, match="no runs yet"):
        store.get_run()
    assert store.list_runs() == []


def test_a_taken_run_id_is_refused(store, tmp_path):
    store.create_run(make_job(tmp_path, ["true"]), "local", run_id="same")
    with pytest.raises(InputError, match="exists already"):
        store.create_run(make_job(tmp_path, ["true"]), "local", run_id="same")


def test_refresh_reads_what_the_wrappers_wrote(store, tmp_path):
    run = store.create_run(make_job(tmp_path, EXIT_BY_INDEX, n_tasks=3), "local")
    assert [run_wrapper(run, i) for i in (0, 1)] == [0, 3]  # freight itself never recorded these
    statuses = RunStore(store.home).refresh(run.id)
    assert states(statuses) == ["succeeded", "failed", "pending"]
    assert statuses[1].exit_code == 3 and statuses[1].reason == "exit 3" and statuses[1].attempt == 1
    assert statuses[0].host == os.uname().nodename and statuses[0].params == {"i": 0}
    run.paths.state(0).write_text("{not json")  # a final state is kept: no need to read it again
    assert states(store.refresh(run.id)) == ["succeeded", "failed", "pending"]
    assert store.retry_indices(run.id) == [1, 2]


def test_retry_does_not_trust_the_old_state_file(store, tmp_path):
    run = store.create_run(make_job(tmp_path, EXIT_BY_INDEX, n_tasks=2), "local")
    store.mark_submitted(run.id, [0, 1], {0: "local:1", 1: "local:1"})
    assert [run_wrapper(run, i) for i in (0, 1)] == [0, 3]
    assert store.retry_indices(run.id) == [1]
    store.mark_submitted(run.id, [1], {1: "local:2"})
    retried = store.refresh(run.id)[1]
    assert (retried.state, retried.attempt, retried.scheduler_id) == (TaskState.queued, 2, "local:2")
    assert retried.exit_code is None
    run.paths.tasks.write_text(  # let it pass this time
        '{"index": 0, "params": {"i": 0}}\n{"index": 1, "params": {"i": 0}}\n')
    assert run_wrapper(run, 1) == 0
    final = store.refresh(run.id)[1]
    assert (final.state, final.attempt) == (TaskState.succeeded, 2)
    assert store.retry_indices(run.id) == []


def test_a_killed_wrapper_is_lost_and_retried(store, tmp_path):
    run = store.create_run(make_job(tmp_path, [sys.executable, "-c", SLEEPER]), "local")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREIGHT_")}
    wrapper = subprocess.Popen([sys.executable, "-m", "freight.task", str(run.paths.root)], env=env)
    program_pid = None
    try:
        _wait_for(run.paths.task_dir(0) / "ready")
        program_pid = json.loads(run.paths.state(0).read_text())["pid"]
        assert states(store.refresh(run.id)) == ["running"]
        assert store.retry_indices(run.id) == []  # running tasks are not retried
        wrapper.kill()
        wrapper.wait()
        lost = store.refresh(run.id)[0]
        assert lost.state is TaskState.lost and "is gone without a final state" in lost.reason
        assert store.retry_indices(run.id) == [0]
    finally:
        wrapper.kill()
        if program_pid:
            os.killpg(program_pid, signal.SIGKILL)  # the program has its own process group


def test_a_target_can_say_whether_a_running_task_lives(store, tmp_path):
    run = store.create_run(make_job(tmp_path, ["true"], n_tasks=2), "local")
    for index in (0, 1):
        _write_running_state(run, index, host="some-other-node", wrapper_pid=12345)
    asked = []

    def is_alive(index, state):
        asked.append((index, state["host"]))
        return index == 0

    assert states(store.refresh(run.id, is_alive=is_alive)) == ["running", "lost"]
    assert asked == [(0, "some-other-node"), (1, "some-other-node")]
    assert states(store.refresh(run.id)) == ["running", "lost"]  # no answer: another host's task


def test_a_dead_wrapper_pid_on_this_host_is_lost(store, tmp_path):
    run = store.create_run(make_job(tmp_path, ["true"]), "local")
    gone = subprocess.Popen(["true"])
    gone.wait()
    _write_running_state(run, 0, host=os.uname().nodename, wrapper_pid=gone.pid)
    assert states(store.refresh(run.id)) == ["lost"]


def test_marking_cancelled_is_kept_when_its_wrapper_is_gone(store, tmp_path):
    run = store.create_run(make_job(tmp_path, ["true"], n_tasks=2), "local")
    store.mark(run.id, [0, 1], TaskState.cancelled, reason="cancelled by the user")
    gone = subprocess.Popen(["true"])
    gone.wait()
    _write_running_state(run, 1, host=os.uname().nodename, wrapper_pid=gone.pid)
    statuses = store.refresh(run.id)
    assert states(statuses) == ["cancelled", "cancelled"]
    assert statuses[0].reason == "cancelled by the user"


def test_meta_round_trips_json(store, tmp_path):
    run = store.create_run(make_job(tmp_path, ["true"]), "local")
    store.set_meta(run.id, "supervisor", {"pid": 42, "host": "h"})
    store.set_meta(run.id, "supervisor", {"pid": 43, "host": "h"})
    assert RunStore(store.home).get_meta(run.id, "supervisor") == {"pid": 43, "host": "h"}
    assert store.get_meta(run.id, "missing", default=[]) == []


def _busy_freight_process(home: str, worker: int, n_runs: int) -> None:
    """What one `freight` process does to the store: create runs, mark tasks, read them."""
    store = RunStore(Path(home))
    for n in range(n_runs):
        job = Job(name=f"w{worker}", command=["true"], workdir=home,
                  tasks=[Task(index=i, params={"n": n}) for i in range(5)])
        run = store.create_run(job, "local")
        store.mark_submitted(run.id, range(5), {i: f"{worker}:{n}" for i in range(5)})
        store.mark(run.id, [0, 1, 2], TaskState.succeeded)
        store.set_meta(run.id, "worker", worker)
        store.refresh(run.id)
        store.list_runs()
    store.close()


def test_two_processes_at_once_do_not_corrupt_the_store(tmp_path):
    home = tmp_path / ".freight"
    RunStore(home).close()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_busy_freight_process, args=(str(home), w, 15)) for w in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0]
    with sqlite3.connect(home / "store.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 30
        by_state = dict(db.execute("SELECT state, count(*) FROM tasks GROUP BY state").fetchall())
        assert by_state == {"succeeded": 90, "queued": 60}
        assert db.execute("SELECT count(*) FROM meta").fetchone()[0] == 30
    assert len(list((home / "runs").iterdir())) == 30


def _write_running_state(run, index: int, host: str, wrapper_pid: int) -> None:
    state = {"state": "running", "index": index, "attempt": 1, "host": host,
             "wrapper_pid": wrapper_pid, "pid": wrapper_pid + 1, "started": time.time()}
    run.paths.task_dir(index).mkdir(parents=True, exist_ok=True)
    run.paths.state(index).write_text(json.dumps(state))


def _wait_for(path: Path, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
