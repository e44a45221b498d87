"""--pack K and --smoke-first against a real single-node Slurm (`bash ci/slurm.sh up`): packed
sweeps with a failing row, retry, cancel, MaxArraySize splits, and the smoke row's two outcomes.

Skipped, with the command that starts the cluster, where it is not up; failed instead in CI."""

import json
import subprocess
from pathlib import Path

from marked import PROGRAM, executions, mark, where  # noqa: F401 (where: a fixture)
from support import tasks_by_state, wait_for
from test_slurm import arrays, slurm  # noqa: F401 (slurm: the fixture that skips without a cluster)

from freight.sched.slurm import squeue


def run_packed(project, where: Path, rows: int, *flags: str, **kwargs) -> dict:
    project.write("packed.py", PROGRAM)
    return project.record("run", "--target", "slurm", "--env", "current", *flags,
                          "--sweep", f"n=range:0:{rows}", "packed.py", "{n}", str(where), **kwargs)


def pack_file(project, array: dict) -> str:
    run_dir = next((project.root / ".freight" / "runs").iterdir())
    return (run_dir / array["pack"]).read_text()


def test_a_packed_sweep_with_a_failing_row_and_its_retry(project, slurm, where):  # noqa: F811
    mark(where, "fail-4")
    record = run_packed(project, where, 7, "--pack", "3")
    assert tasks_by_state(record) == {"succeeded": [0, 1, 2, 3, 5, 6], "failed": [4]}
    assert executions(where) == dict.fromkeys(range(7), 1)  # row 5 ran although row 4 failed
    [array] = arrays(project, record["id"])
    assert array["array"] == "0-2" and pack_file(project, array) == "0 1 2\n3 4 5\n6\n"
    job = array["job"]
    assert [t["scheduler_id"] for t in record["tasks"]] == [f"{job}_{e}" for e in (0, 0, 0, 1, 1, 1, 2)]
    # The element's exit code says whether any of its rows failed.
    assert squeue([job]) == {f"{job}_0": "COMPLETED", f"{job}_1": "FAILED", f"{job}_2": "COMPLETED"}
    failed = record["tasks"][4]
    assert (failed["exit_code"], failed["reason"]) == (3, "exit 3")
    results = json.loads(project.freight("results", "--json", check=True).stdout)
    assert {row["n"]: row.get("square") for row in results} == {n: n * n if n != 4 else None for n in range(7)}

    (where / "fail-4").unlink()
    retried = project.freight("retry", "--json")
    assert retried.returncode == 0, retried.stderr
    assert tasks_by_state(json.loads(retried.stdout)) == {"succeeded": list(range(7))}
    assert executions(where) == {**dict.fromkeys(range(7), 1), 4: 2}  # only the failed row again
    second = arrays(project, record["id"])[1]
    assert second["array"] == "4" and "pack" not in second  # one row alone needs no pack


def test_packs_split_under_max_array_size_and_a_retry_packs_only_its_rows(project, slurm, where):  # noqa: F811
    project.write("freight.toml", "[targets.slurm]\nmax_array_size = 5\n")
    mark(where, "fail-3", "fail-11", "fail-12", "fail-20")
    record = run_packed(project, where, 25, "--pack", "2")
    assert tasks_by_state(record) == {"succeeded": [n for n in range(25) if n not in (3, 11, 12, 20)],
                                      "failed": [3, 11, 12, 20]}
    assert executions(where) == dict.fromkeys(range(25), 1)
    first = arrays(project, record["id"])
    assert [(a["offset"], a["array"]) for a in first] == [(0, "0-4"), (5, "0-4"), (10, "0-2")]  # 13 elements
    for name in ("fail-3", "fail-11", "fail-12", "fail-20"):
        (where / name).unlink()
    retried = project.freight("retry", "--json")
    assert tasks_by_state(json.loads(retried.stdout)) == {"succeeded": list(range(25))}, retried.stderr
    last = arrays(project, record["id"])[-1]
    assert last["array"] == "0-1" and pack_file(project, last) == "3 11\n12 20\n"
    assert executions(where) == {**dict.fromkeys(range(25), 1), 3: 2, 11: 2, 12: 2, 20: 2}


def test_cancel_of_a_packed_array_cancels_every_row(project, slurm, where):  # noqa: F811
    mark(where, "wait-0")
    record = run_packed(project, where, 7, "--pack", "3", "--max-parallel", "1", "--no-wait")
    wait_for(lambda: executions(where) == {0: 1})  # element 0 runs row 0; elements 1, 2 wait
    job = arrays(project, record["id"])[0]["job"]
    pending = subprocess.run(["squeue", "-j", job, "-h", "-r", "-t", "PD", "-o", "%i"], capture_output=True, text=True)
    assert sorted(pending.stdout.split()) == [f"{job}_1", f"{job}_2"]
    status = {t["index"]: t["state"] for t in project.record("status")["tasks"]}
    assert status == {0: "running", **dict.fromkeys(range(1, 7), "queued")}  # a pending element: its rows queued
    assert project.freight("cancel").returncode == 0
    done = json.loads(project.freight("wait", "--json").stdout)
    assert tasks_by_state(done) == {"cancelled": list(range(7))}
    reasons = {t["index"]: t["reason"] for t in project.record("status")["tasks"]}
    assert all("before it started" in reasons[i] for i in (1, 2))  # the running pack stopped
    assert all("before the task started (Slurm CANCELLED" in reasons[i] for i in range(3, 7))
    assert executions(where) == {0: 1}  # no other row's program ever started


def test_smoke_first_runs_row_0_alone_then_the_rest(project, slurm, where):  # noqa: F811
    record = run_packed(project, where, 5, "--smoke-first", "--pack", "2", "--time", "30m")
    assert tasks_by_state(record) == {"succeeded": [0, 1, 2, 3, 4]}
    assert executions(where) == dict.fromkeys(range(5), 1)  # the smoke row counts as row 0's run
    smoke, rest = arrays(project, record["id"])
    assert smoke["array"] == "0" and "pack" not in smoke
    assert rest["array"] == "0-1" and pack_file(project, rest) == "1 2\n3 4\n"
    run_dir = Path(record["run_dir"])
    scripts = [(run_dir / "scripts" / f"slurm-{k}" / "slurm.sbatch").read_text() for k in (1, 2)]
    assert "#SBATCH --time=00:10:00" in scripts[0]  # the smoke limit, not the task's 30 min
    assert "#SBATCH --time=01:00:00" in scripts[1]  # 2 rows per element x 30 min
    assert json.loads((run_dir / "job.json").read_text())["resources"]["time_s"] == 1800


def test_a_failed_smoke_row_stops_the_sweep_with_one_line(project, slurm, where):  # noqa: F811
    mark(where, "fail-0")
    project.write("packed.py", PROGRAM)
    done = project.freight("run", "--target", "slurm", "--env", "current", "--smoke-first",
                           "--sweep", "n=range:0:4", "packed.py", "{n}", str(where))
    assert done.returncode == 1, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("freight: error:")]
    assert "row 0 (n=0) failed with exit code 3" in line and "nothing else was submitted" in line
    assert "/tasks/0/stderr.log" in line and "freight retry" in line
    status = project.record("status")
    assert tasks_by_state(status) == {"failed": [0], "pending": [1, 2, 3]}
    assert len(arrays(project, status["id"])) == 1 and executions(where) == {0: 1}

    (where / "fail-0").unlink()
    retried = project.freight("retry", "--json")
    assert tasks_by_state(json.loads(retried.stdout)) == {"succeeded": [0, 1, 2, 3]}, retried.stderr
    assert executions(where) == {0: 2, 1: 1, 2: 1, 3: 1}
