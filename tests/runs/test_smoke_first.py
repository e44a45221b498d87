"""--smoke-first on the local target, through `freight run`, the Python API and launch.submit:
row 0 runs alone with a short time limit and counts as row 0's result; the rest follows only
if it succeeded. (The same on a real Slurm and Grid Engine: tests/sched/test_*_pack.py.)"""

import json
import sys
from pathlib import Path

import pytest
from marked import PROGRAM, executions, mark, where  # noqa: F401 (where: a fixture)
from support import tasks_by_state

import freight
from freight.runs import launch
from freight.runs.store import RunStore
from freight.spec.job import Job, Task
from freight.spec.resources import Resources


def smoke_run(project, where: Path, rows: int, *flags: str):
    project.write("packed.py", PROGRAM)
    return project.freight("run", "--env", "current", "--smoke-first", *flags, "--sweep",
                           f"n=range:0:{rows}", "packed.py", "{n}", str(where))


def supervisors(record: dict) -> list[int]:
    return json.loads((Path(record["run_dir"]) / "local-supervisors.json").read_text())


def test_a_smoke_row_that_succeeds_is_row_0s_result_and_the_rest_follows(project, where):
    done = smoke_run(project, where, 4, "--time", "1h", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert tasks_by_state(record) == {"succeeded": [0, 1, 2, 3]}
    assert executions(where) == dict.fromkeys(range(4), 1)  # row 0 not run twice
    assert len(supervisors(record)) == 2  # row 0 alone, then the rest
    job = json.loads((Path(record["run_dir"]) / "job.json").read_text())
    assert job["resources"]["time_s"] == 3600  # the task's own limit is back for the rest
    results = json.loads(project.freight("results", "--json", check=True).stdout)
    assert [row["square"] for row in results] == [0, 1, 4, 9]


def test_a_smoke_row_that_fails_stops_everything_with_one_line_and_exit_1(project, where):
    mark(where, "fail-0")
    done = smoke_run(project, where, 4)
    assert done.returncode == 1
    [line] = [line for line in done.stderr.splitlines() if line.startswith("freight: error:")]
    run_id = project.record("status")["id"]
    log = project.root / ".freight" / "runs" / run_id / "tasks" / "0" / "stderr.log"
    assert line == (f"freight: error: {log}: --smoke-first: row 0 (n=0) failed with exit code 3; nothing "
                    f"else was submitted (fix: read that log, fix the problem, then `freight retry {run_id}` "
                    "runs every row)")
    assert executions(where) == {0: 1}
    assert tasks_by_state(project.record("status")) == {"failed": [0], "pending": [1, 2, 3]}
    (where / "fail-0").unlink()
    retried = project.freight("retry", "--json")
    assert tasks_by_state(json.loads(retried.stdout)) == {"succeeded": [0, 1, 2, 3]}, retried.stderr
    assert executions(where) == {0: 2, 1: 1, 2: 1, 3: 1}


def test_the_smoke_row_gets_the_short_time_limit(tmp_path, where):
    mark(where, "wait-0")  # row 0 would wait forever for a gate that never opens
    (tmp_path / "packed.py").write_text(PROGRAM)
    job = Job(name="slow", command=["python", "packed.py", "{n}", str(where)], workdir=str(tmp_path),
              tasks=[Task(index=i, params={"n": i}) for i in range(3)], resources=Resources(time_s=3600),
              python=sys.executable, env={"FREIGHT_KILL_GRACE": "1"})
    store = RunStore(tmp_path / ".freight")
    with pytest.raises(launch.SmokeTestFailed) as caught:
        launch.submit(store, job, "local", smoke_first=True, smoke_limit_s=1)
    assert "row 0 (n=0) failed" in caught.value.problem and "timeout" in caught.value.problem
    assert caught.value.exit_code == 1
    run = store.get_run(caught.value.run_id)
    assert run.job.resources.time_s == 3600  # job.json has the task's limit again
    assert [s.state.value for s in store.refresh(run.id)] == ["failed", "pending", "pending"]
    assert executions(where) == {0: 1}


def test_the_python_api_takes_smoke_first(tmp_path, monkeypatch, where):
    monkeypatch.delenv("FREIGHT_HOME", raising=False)
    (tmp_path / "packed.py").write_text(PROGRAM)
    run = freight.run("packed.py", ["{n}", str(where)], sweep={"n": [0, 1, 2]}, env="current",
                      cwd=tmp_path, smoke_first=True, pack=2, wait=True)
    assert run.status() == {"succeeded": 3}
    mark(where, "fail-0")
    with pytest.raises(launch.SmokeTestFailed) as caught:
        freight.run("packed.py", ["{n}", str(where)], sweep={"n": [0, 1, 2]}, env="current",
                    cwd=tmp_path, smoke_first=True)
    assert freight.Run.load(caught.value.run_id, home=tmp_path / ".freight").status() == {"failed": 1, "pending": 2}
    assert executions(where) == {0: 2, 1: 1, 2: 1}


def test_smoke_first_on_one_row_runs_it_once_with_its_own_limit(project, where):
    project.write("packed.py", PROGRAM)
    record = project.record("run", "--env", "current", "--smoke-first", "--time", "2h", "packed.py", "0", str(where))
    assert tasks_by_state(record) == {"succeeded": [0]}
    assert len(supervisors(record)) == 1 and executions(where) == {0: 1}
    job = json.loads((Path(record["run_dir"]) / "job.json").read_text())
    assert job["resources"]["time_s"] == 7200  # no smoke limit: the row is the whole run
