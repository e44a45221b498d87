"""The Slurm target against a real single-node Slurm (`bash ci/slurm.sh up`): sweeps as arrays,
arrays split under MaxArraySize, scancel and retry, freight cancel, sbatch's own errors, a job
script that fails before the wrapper, a wrapper killed mid-task, and the squeue/sacct readers.

Skipped, with the command that starts the cluster, where it is not up; failed instead in CI."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from clusters import need_slurm
from support import state_of, tasks_by_state, wait_for

from freight.runs.store import RunStore
from freight.sched.slurm import META_KEY, cluster_limits, sacct, squeue

COUNTING = """
import os, sys, time
from pathlib import Path
n, counts = sys.argv[1], Path(sys.argv[2])
counts.mkdir(exist_ok=True)
with open(counts / n, "a") as f:
    f.write(f"ran {os.environ['FREIGHT_TASK_INDEX']}\\n")
gate = os.environ.get("GATE")
while n in os.environ.get("WAIT_ROWS", "").split(",") and gate and not Path(gate).exists():
    time.sleep(0.1)
if n in os.environ.get("FAIL_ROWS", "").split(","):
    raise SystemExit(3)
with open(counts / n, "a") as f:
    f.write("done\\n")
"""


@pytest.fixture(scope="module")
def slurm():
    need_slurm()


@pytest.fixture
def counts(tmp_path) -> Path:
    return tmp_path / "counts"



def arrays(project, run_id: str) -> list[dict]:
    return RunStore(project.root / ".freight").get_meta(run_id, META_KEY)


def ran(counts: Path) -> dict[int, list[str]]:
    return {int(p.name): p.read_text().splitlines() for p in counts.iterdir()}




def test_a_sweep_from_freight_toml_reaches_the_program_literally(project, slurm):
    project.write("freight.toml", """
target = "slurm"
env = "current"
command = ["python", "show.py", "{x}"]
[sweep.params]
x = ["a b", "it's \\"quoted\\"", "$HOME; echo pwned `id`"]
""")
    project.write("show.py", "import json, os, sys\nprint(json.dumps([sys.argv[1], os.environ['FREIGHT_PARAM_X']]))\n")
    done = project.freight("run", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["target"] == "slurm" and tasks_by_state(record) == {"succeeded": [0, 1, 2]}
    values = ["a b", 'it\'s "quoted"', "$HOME; echo pwned `id`"]
    outputs = [json.loads((Path(record["run_dir"]) / "tasks" / str(i) / "stdout.log").read_text()) for i in range(3)]
    assert outputs == [[v, v] for v in values]
    [array] = arrays(project, record["id"])
    assert (array["offset"], array["array"]) == (0, "0-2")
    assert [t["scheduler_id"] for t in record["tasks"]] == [f"{array['job']}_{i}" for i in range(3)]
    comment = subprocess.run(["squeue", "-j", array["job"], "-t", "all", "-h", "-r", "-O", "Comment:60"],
                             capture_output=True, text=True).stdout.split()
    assert set(comment) == {f"freight:{record['id']}"}  # how a lost submission can be found


def test_a_sweep_over_max_array_size_is_split_and_each_row_runs_once(project, slurm, counts):
    project.write("freight.toml", "[targets.slurm]\nmax_array_size = 10\n")
    project.write("count.py", COUNTING)
    record = project.record("run", "--target", "slurm", "--env", "current", "--sweep", "n=range:0:25",
                            "count.py", "{n}", str(counts))
    assert tasks_by_state(record) == {"succeeded": list(range(25))}
    assert [(a["offset"], a["array"]) for a in arrays(project, record["id"])] == [(0, "0-9"), (10, "0-9"), (20, "0-4")]
    assert ran(counts) == {n: [f"ran {n}", "done"] for n in range(25)}  # once each, at its own index


def test_max_parallel_holds_across_split_arrays(project, slurm, tmp_path):
    project.write("freight.toml", "[targets.slurm]\nmax_array_size = 4\n")
    project.write("nap.py", "import time\ntime.sleep(0.4)\n")
    record = project.record("run", "--target", "slurm", "--env", "current", "--max-parallel", "2",
                            "--sweep", "n=range:0:8", "nap.py")
    assert tasks_by_state(record) == {"succeeded": list(range(8))}
    assert len(arrays(project, record["id"])) == 2
    spans = [(t["started"], t["ended"]) for t in record["tasks"]]
    most = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert most <= 2


def test_the_resources_asked_for_reach_slurm(project, slurm):
    project.write("freight.toml", '[targets.slurm]\npartition = "debug"\nsignal = "USR1@90"\n')
    project.write("t.py", "print(1)\n")
    record = project.record("run", "--target", "slurm", "--env", "current", "--name", "sized",
                            "--cpus", "2", "--mem", "100M", "--time", "1:00:00", "t.py")
    assert tasks_by_state(record) == {"succeeded": [0]}
    shown = subprocess.run(["scontrol", "show", "job", record["tasks"][0]["scheduler_id"]],
                           capture_output=True, text=True, check=True).stdout.split()
    for field in ("JobName=sized", "Partition=debug", "TimeLimit=01:00:00", "CPUs/Task=2",
                  "MinMemoryNode=100M", "NumNodes=1"):
        assert field in shown


def test_a_task_killed_with_scancel_is_cancelled_and_retry_completes_it(project, slurm, counts, tmp_path):
    project.write("count.py", COUNTING)
    env = {"GATE": str(tmp_path / "gate"), "WAIT_ROWS": "1"}
    record = project.record("run", "--target", "slurm", "--env", "current", "--no-wait",
                            "--sweep", "n=0,1,2", "count.py", "{n}", str(counts), env=env)
    wait_for(lambda: (counts / "1").exists())  # the program itself has started
    element = record["tasks"][1]["scheduler_id"]
    subprocess.run(["scancel", element], check=True)
    done = project.freight("wait", "--json", env=env)
    assert done.returncode == 1
    waited = json.loads(done.stdout)
    assert tasks_by_state(waited) == {"succeeded": [0, 2], "cancelled": [1]}
    (tmp_path / "gate").touch()
    done = project.freight("retry", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert tasks_by_state(json.loads(done.stdout)) == {"succeeded": [0, 1, 2]}
    assert ran(counts) == {0: ["ran 0", "done"], 1: ["ran 1", "ran 1", "done"], 2: ["ran 2", "done"]}
    second = arrays(project, record["id"])[1]
    assert second["array"] == "1"  # the retry queued only the cancelled row


def test_freight_cancel_stops_tasks_that_never_started(project, slurm, counts):
    project.write("freight.toml", '[targets.slurm]\nsbatch_args = ["--hold"]\n')  # passthrough: held
    project.write("count.py", COUNTING)
    record = project.record("run", "--target", "slurm", "--env", "current", "--no-wait",
                            "--sweep", "n=0,1,2", "count.py", "{n}", str(counts))
    [array] = arrays(project, record["id"])
    reasons = subprocess.run(["squeue", "-j", array["job"], "-h", "-r", "-o", "%r"], capture_output=True, text=True)
    assert set(reasons.stdout.split()) == {"JobHeldUser"}
    assert tasks_by_state(project.record("status")) == {"queued": [0, 1, 2]}
    assert project.freight("cancel").returncode == 0
    assert tasks_by_state(json.loads(project.freight("wait", "--json").stdout)) == {"cancelled": [0, 1, 2]}
    tasks = project.record("status")["tasks"]  # the reasons the target wrote into state.json
    assert [t["state"] for t in tasks] == ["cancelled"] * 3
    assert all("before the task started" in t["reason"] for t in tasks)
    assert not counts.exists()


@pytest.mark.parametrize("setting, flag, message", [
    ('partition = "no-such-partition"', [], "Invalid partition name specified"),
    ('sbatch_args = ["--reservation", "no such reservation"]', [], "Requested reservation is invalid"),
    ("", ["--gpus", "1"], "Invalid generic resource"),
])
def test_a_request_the_cluster_refuses_is_one_line_with_sbatchs_message(project, slurm, setting, flag, message):
    project.write("freight.toml", f"[targets.slurm]\n{setting}\n")
    project.write("t.py", "print(1)\n")
    done = project.freight("run", "--target", "slurm", "--env", "current", *flag, "t.py")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("freight: error:") and message in lines[0]
    assert "Traceback" not in done.stderr


def test_a_job_script_that_fails_before_the_wrapper_starts_says_why(project, slurm):
    project.write("freight.toml", '[targets.slurm]\npython = "/nonexistent/python3"\n')
    project.write("t.py", "print(1)\n")
    done = project.freight("run", "--json", "--target", "slurm", "--env", "current", "t.py")
    assert done.returncode == 1, done.stderr
    assert tasks_by_state(json.loads(done.stdout)) == {"failed": [0]}
    [task] = project.record("status")["tasks"]  # the reason the target wrote into state.json
    assert task["state"] == "failed"
    assert "before the task started" in task["reason"] and "sched-logs/" in task["reason"]
    assert "/nonexistent/python3" in state_of(json.loads(done.stdout)["run_dir"], 0)["log_tail"]


def test_a_wrapper_killed_mid_task_is_not_reported_running(project, slurm, counts, tmp_path):
    project.write("count.py", COUNTING)
    env = {"GATE": str(tmp_path / "gate"), "WAIT_ROWS": "0"}
    record = project.record("run", "--target", "slurm", "--env", "current", "--no-wait",
                            "--sweep", "n=0", "count.py", "{n}", str(counts), env=env)
    wait_for(lambda: (counts / "0").exists())
    running = state_of(record["run_dir"], 0)
    os.kill(running["wrapper_pid"], signal.SIGKILL)  # no final state from the wrapper
    try:
        done = project.freight("wait", "--json", env=env)
        [task] = json.loads(done.stdout)["tasks"]
        assert task["state"] in ("failed", "lost") and "Slurm" in task["reason"]
        assert state_of(record["run_dir"], 0)["slurm_job"] == task["scheduler_id"]
    finally:
        (tmp_path / "gate").touch()  # the program itself, if Slurm left it behind


def test_squeue_and_sacct_readers_parse_the_real_output(project, slurm, counts):
    project.write("count.py", COUNTING)
    record = project.record("run", "--target", "slurm", "--env", "current", "--sweep", "n=0,1",
                            "count.py", "{n}", str(counts), env={"FAIL_ROWS": "1"})
    assert tasks_by_state(record) == {"succeeded": [0], "failed": [1]}
    job = arrays(project, record["id"])[0]["job"]
    assert squeue([job]) == {f"{job}_0": "COMPLETED", f"{job}_1": "FAILED"}
    assert squeue(["999999"]) == {}  # gone: "Invalid job id specified"
    if not cluster_limits().accounting:
        pytest.skip("no accounting (WITH_DBD=0): sacct has nothing to say")
    wait_for(lambda: len(sacct([job]) or {}) == 2, seconds=30)  # slurmdbd records land a moment later
    assert sacct([job]) == {f"{job}_0": ("COMPLETED", 0), f"{job}_1": ("FAILED", 3)}


def test_cluster_limits_come_from_scontrol(slurm):
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    size = next(line.split("=")[1].strip() for line in config.splitlines() if line.startswith("MaxArraySize"))
    assert cluster_limits().max_array_size == int(size)
    assert cluster_limits().accounting == ("accounting_storage/none" not in config)
