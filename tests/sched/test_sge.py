"""The Grid Engine target against a real single-host Son of Grid Engine (started by
`bash ci/sge.sh up`): sweeps, parallel environments, qdel, retry, refused requests."""

import json
import subprocess
from pathlib import Path

import pytest
from clusters import need_sge
from support import state_of, tasks_by_state, wait_for

@pytest.fixture(scope="module", autouse=True)
def sge_cluster():
    need_sge()


@pytest.fixture(autouse=True)
def delete_leftover_jobs(project):
    """A failed test must not leave its jobs holding the cluster's slots."""
    yield
    jobs = {entry["job"] for path in project.root.glob("**/.freight/runs/*/sge-jobs.json")
            for entry in json.loads(path.read_text())}
    if jobs:
        subprocess.run(["qdel", *sorted(jobs)], capture_output=True)





def test_sweep_with_shell_syntax_in_values_runs_literally_through_the_cli(project):
    project.write("show.py", """
import json, os, sys
import freight
freight.report(got=sys.argv[1])
print(json.dumps([sys.argv[1], os.environ["FREIGHT_PARAM_X"], os.environ.get("JOB_ID"), os.environ.get("SGE_TASK_ID")]))
""")
    nasty = ["a b; echo pwned", "it's \"quoted\" $HOME", "$(id) `id` | x & y"]
    project.write("rows.jsonl", "".join(json.dumps({"x": value}) + "\n" for value in nasty))
    record = project.record("run", "--target", "sge", "--env", "current", "--sweep-file", "rows.jsonl",
                            "show.py", "{x}")
    assert tasks_by_state(record) == {"succeeded": [0, 1, 2]}
    run_dir = Path(record["run_dir"])
    outputs = [json.loads((run_dir / "tasks" / str(i) / "stdout.log").read_text().strip()) for i in range(3)]
    assert [o[:2] for o in outputs] == [[v, v] for v in nasty]
    job_id = outputs[0][2]
    assert [o[3] for o in outputs] == ["1", "2", "3"]  # one array job, rows 0..2 = tasks 1..3
    assert [t["scheduler_id"] for t in record["tasks"]] == [f"{job_id}.{k}" for k in (1, 2, 3)]
    assert json.loads((run_dir / "sge-jobs.json").read_text())[0]["job"] == job_id
    results = json.loads(project.freight("results", "--json", check=True).stdout)
    assert sorted(row["got"] for row in results) == sorted(nasty)


def test_cpus_become_a_parallel_environment_and_memory_a_per_slot_limit(project):
    project.write("slots.py", """
import os, resource
print(os.environ["NSLOTS"], os.environ["PE"], os.environ["OMP_NUM_THREADS"],
      resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20)
""")
    project.write("freight.toml", """[targets.sge]
account = "ci-lab"
notify = true
qsub_args = ["-l arch=lx-amd64", "-m n"]
""")  # every directive freight writes must be one the real qsub takes
    record = project.record("run", "--target", "sge", "--env", "current", "--cpus", "2", "--mem", "2G",
                            "--time", "5m", "slots.py")
    assert tasks_by_state(record) == {"succeeded": [0]}
    nslots, pe, threads, limit_mb = (Path(record["run_dir"]) / "tasks/0/stdout.log").read_text().split()
    assert (nslots, pe, threads) == ("2", "smp", "2")
    assert int(limit_mb) == 2048  # h_vmem=1024M per slot, times 2 slots


def test_qdel_of_running_and_waiting_tasks_is_reported_and_retry_completes_the_sweep(project, tmp_path):
    gate = tmp_path / "gate"
    project.write("step.py", f"""
import sys, time
from pathlib import Path
import freight
n = int(sys.argv[1])
while n < 2 and not Path({str(gate)!r}).exists():
    time.sleep(0.1)
freight.report(square=n * n)
""")
    record = project.record("run", "--target", "sge", "--env", "current", "--no-wait", "--max-parallel", "2",
                            "--sweep", "n=0,1,2,3", "step.py", "{n}")
    run_dir = Path(record["run_dir"])
    wait_for(lambda: state_of(run_dir, 0).get("state") == state_of(run_dir, 1).get("state") == "running")
    job_id = json.loads((run_dir / "sge-jobs.json").read_text())[0]["job"]
    subprocess.run(["qdel", f"{job_id}.2", f"{job_id}.4"], check=True, capture_output=True)  # rows 1, 3

    def status():
        return {t["index"]: t for t in project.record("status")["tasks"]}
    wait_for(lambda: status()[1]["state"] == status()[3]["state"] == "cancelled")
    now = status()
    assert "qdel" in now[1]["reason"] and "before it started" in now[3]["reason"]
    assert now[0]["state"] == "running" and now[2]["state"] != "cancelled"  # the rest goes on

    gate.write_text("open")
    done = project.freight("wait", "--json", timeout=180)
    assert done.returncode == 1, done.stderr
    assert tasks_by_state(json.loads(done.stdout)) == {"succeeded": [0, 2], "cancelled": [1, 3]}
    retried = project.freight("retry", "--json", timeout=180)
    assert retried.returncode == 0, retried.stderr
    final = json.loads(retried.stdout)
    assert tasks_by_state(final) == {"succeeded": [0, 1, 2, 3]}
    assert [t["attempt"] for t in final["tasks"]] == [1, 2, 1, 2]
    rows = json.loads(project.freight("results", "--json", check=True).stdout)
    assert sorted((row["n"], row["square"]) for row in rows) == [("0", 0), ("1", 1), ("2", 4), ("3", 9)]
    retry = json.loads((run_dir / "sge-jobs.json").read_text())[1]  # the retry: one more array,
    assert retry["rows"] == [[1, 1], [3, 3]] and retry["mapped"]  # tasks 1-2 mapped to rows 1, 3
    assert [final["tasks"][i]["scheduler_id"] for i in (1, 3)] == [f"{retry['job']}.1", f"{retry['job']}.2"]


def test_a_job_in_error_state_is_failed_with_grid_engine_s_reason_and_retry_replaces_it(project):
    project.write("t.py", "print(1)\n")
    project.write("freight.toml", '[targets.sge]\nqsub_args = ["-wd /nonexistent/freight-test"]\n')
    record = project.record("run", "--target", "sge", "--env", "current", "--no-wait", "t.py")
    wait_for(lambda: project.record("status")["tasks"][0]["state"] == "failed")
    task = project.record("status")["tasks"][0]
    assert "Eqw" in task["reason"] and "/nonexistent/freight-test" in task["reason"]
    first_job = json.loads((Path(record["run_dir"]) / "sge-jobs.json").read_text())[0]["job"]

    assert project.freight("retry", "--no-wait").returncode == 0
    gone = subprocess.run(["qstat", "-j", first_job], capture_output=True, text=True)
    assert gone.returncode != 0  # the retry deleted the job it replaces: no row runs twice
    assert project.freight("cancel").returncode == 0


def test_cancel_stops_running_and_waiting_tasks(project):
    project.write("sleepy.py", "import time; time.sleep(300)\n")
    record = project.record("run", "--target", "sge", "--env", "current", "--no-wait", "--max-parallel", "1",
                            "--sweep", "n=0,1,2", "sleepy.py")
    run_dir = Path(record["run_dir"])
    wait_for(lambda: state_of(run_dir, 0).get("state") == "running")
    assert project.freight("cancel").returncode == 0
    done = project.freight("wait", "--json", timeout=180)
    assert done.returncode == 1
    final = json.loads(done.stdout)
    assert tasks_by_state(final) == {"cancelled": [0, 1, 2]}
    assert all("freight cancel" in t["reason"] for t in final["tasks"])


def test_a_project_folder_with_spaces_and_a_quote_in_its_path(tmp_path):
    from support import Project

    project = Project(tmp_path / "it's my project")
    project.write("t.py", "import os; print(os.getcwd())\n")
    record = project.record("run", "--target", "sge", "--env", "current", "t.py")
    assert tasks_by_state(record) == {"succeeded": [0]}
    assert (Path(record["run_dir"]) / "tasks/0/stdout.log").read_text().strip() == str(project.root)
    assert list((Path(record["run_dir"]) / "sched-logs").iterdir())  # -o/-e reached the run folder


@pytest.mark.parametrize("toml, args, said", [
    ('[targets.sge]\nqueue = "nosuch.q"\n', [], 'unknown queue "nosuch.q"'),
    ("", ["--gpus", "1"], 'unknown resource "gpu"'),  # this cluster has no GPUs
    ('[targets.sge]\npe = "nosuch"\n', ["--cpus", "2"], 'parallel environment "nosuch" does not exist'),
])
def test_a_request_the_cluster_cannot_take_is_exit_2_quoting_qsub(project, toml, args, said):
    project.write("t.py", "print(1)\n")
    project.write("freight.toml", toml)
    done = project.freight("run", "--target", "sge", "--env", "current", *args, "t.py")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert said in lines[0] and "Grid Engine refused the job" in lines[0]


def test_a_request_no_queue_can_satisfy_is_refused_at_submit_time(project):
    project.write("t.py", "print(1)\n")
    done = project.freight("run", "--target", "sge", "--env", "current", "--cpus", "100000", "t.py")
    assert done.returncode == 2, done.stderr
    assert "no suitable queues" in done.stderr and len(done.stderr.strip().splitlines()) == 1
