"""--pack K and --smoke-first against a real single-host Son of Grid Engine (`bash ci/sge.sh up`):
a packed sweep with a failing row and its retry, qdel of a packed array, a smoke row."""

import json
from pathlib import Path

from marked import PROGRAM, executions, mark, where  # noqa: F401 (where: a fixture)
from support import tasks_by_state, wait_for
from test_sge import delete_leftover_jobs, sge_cluster  # noqa: F401 (autouse: skip without Grid Engine, clean up)


def run_packed(project, where: Path, rows: int, *flags: str) -> dict:
    project.write("packed.py", PROGRAM)
    return project.record("run", "--target", "sge", "--env", "current", *flags,
                          "--sweep", f"n=range:0:{rows}", "packed.py", "{n}", str(where))


def submissions(record: dict) -> list[dict]:
    return json.loads((Path(record["run_dir"]) / "sge-jobs.json").read_text())


def test_a_packed_sweep_with_a_failing_row_and_its_retry(project, where):  # noqa: F811
    mark(where, "fail-1", "fail-4")
    record = run_packed(project, where, 7, "--pack", "3")
    assert tasks_by_state(record) == {"succeeded": [0, 2, 3, 5, 6], "failed": [1, 4]}
    assert executions(where) == dict.fromkeys(range(7), 1)
    [entry] = submissions(record)
    assert (entry["pack"], entry["rows"]) == (3, [[0, 6]])
    scripts = Path(record["run_dir"]) / "scripts"
    assert (scripts / "sge-1.pack").read_text() == "0 1 2\n3 4 5\n6\n"
    assert "#$ -t 1-3" in (scripts / "sge-1.sh").read_text()
    job = entry["job"]
    assert [t["scheduler_id"] for t in record["tasks"]] == [f"{job}.{k}" for k in (1, 1, 1, 2, 2, 2, 3)]
    assert record["tasks"][4]["exit_code"] == 3
    results = json.loads(project.freight("results", "--json", check=True).stdout)
    assert {row["n"]: row.get("square") for row in results} == {n: None if n in (1, 4) else n * n for n in range(7)}

    for name in ("fail-1", "fail-4"):
        (where / name).unlink()
    retried = project.freight("retry", "--json", timeout=180)
    assert retried.returncode == 0, retried.stderr
    assert tasks_by_state(json.loads(retried.stdout)) == {"succeeded": list(range(7))}
    assert executions(where) == {**dict.fromkeys(range(7), 1), 1: 2, 4: 2}  # only the failed rows again
    assert (scripts / "sge-2.pack").read_text() == "1 4\n"  # packed together: one array task


def test_qdel_of_a_packed_array_cancels_every_row(project, where):  # noqa: F811
    mark(where, "wait-0")
    record = run_packed(project, where, 7, "--pack", "3", "--max-parallel", "1", "--no-wait")
    wait_for(lambda: executions(where) == {0: 1})
    status = {t["index"]: t["state"] for t in project.record("status")["tasks"]}
    assert status == {0: "running", **dict.fromkeys(range(1, 7), "queued")}
    assert project.freight("cancel").returncode == 0
    done = json.loads(project.freight("wait", "--json", timeout=180).stdout)
    assert tasks_by_state(done) == {"cancelled": list(range(7))}
    assert executions(where) == {0: 1}  # no other row's program ever started
    assert len(submissions(record)) == 1


def test_a_failed_smoke_row_stops_the_sweep(project, where):  # noqa: F811
    mark(where, "fail-0")
    project.write("packed.py", PROGRAM)
    done = project.freight("run", "--target", "sge", "--env", "current", "--smoke-first", "--pack", "2",
                           "--sweep", "n=range:0:5", "packed.py", "{n}", str(where))
    assert done.returncode == 1 and "row 0 (n=0) failed with exit code 3" in done.stderr
    status = project.record("status")
    assert tasks_by_state(status) == {"failed": [0], "pending": [1, 2, 3, 4]}
    (where / "fail-0").unlink()
    retried = json.loads(project.freight("retry", "--json", timeout=180).stdout)
    assert tasks_by_state(retried) == {"succeeded": [0, 1, 2, 3, 4]}
    assert executions(where) == {0: 2, 1: 1, 2: 1, 3: 1, 4: 1}
