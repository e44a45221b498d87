"""The local target against real processes: parallel pool, faults, kill, retry, cancel, GPUs."""

import json
import os
import signal
from pathlib import Path

import pytest
from support import state_of, tasks_by_state, wait_for

from freight.runs.store import RunStore
from freight.runs.store import pid_alive

COUNTING = """
import json, os, sys, time
from pathlib import Path
n = sys.argv[1]
runs = Path(os.environ["COUNT_DIR"])
runs.mkdir(exist_ok=True)
with open(runs / f"task-{n}", "a") as f:
    f.write("ran\\n")
if Path(os.environ.get("GATE", "/nonexistent")).exists() is False and n in os.environ.get("SLOW", "").split(","):
    time.sleep(60)
print("done", n)
"""



def test_sweep_runs_every_task_and_passes_params_three_ways(project):
    project.write("show.py", """
import json, os, sys
from pathlib import Path
task_dir = Path(os.environ["FREIGHT_TASK_DIR"])
(task_dir / "seen.json").write_text(json.dumps({
    "argv": sys.argv[1:], "env_lr": os.environ["FREIGHT_PARAM_LR"],
    "env_opt": os.environ["FREIGHT_PARAM_OPT"],
    "params": json.loads((task_dir / "params.json").read_text()),
    "index": os.environ["FREIGHT_TASK_INDEX"], "run_dir": os.environ["FREIGHT_RUN_DIR"]}))
""")
    record = project.record("run", "--env", "current", "--sweep", "lr=1e-3,0.1", "--sweep", "opt=sgd,adam",
                            "show.py", "--lr", "{lr}", "--opt", "{opt}")
    assert tasks_by_state(record) == {"succeeded": [0, 1, 2, 3]}
    seen = [json.loads((Path(record["run_dir"]) / "tasks" / str(i) / "seen.json").read_text()) for i in range(4)]
    assert [s["argv"] for s in seen] == [["--lr", "1e-3", "--opt", "sgd"], ["--lr", "1e-3", "--opt", "adam"],
                                         ["--lr", "0.1", "--opt", "sgd"], ["--lr", "0.1", "--opt", "adam"]]
    assert [s["env_lr"] for s in seen] == ["1e-3", "1e-3", "0.1", "0.1"]
    assert seen[3]["params"] == {"lr": "0.1", "opt": "adam"}
    assert [s["index"] for s in seen] == ["0", "1", "2", "3"]
    assert seen[0]["run_dir"] == record["run_dir"]


def test_values_with_shell_syntax_reach_the_program_literally(project):
    project.write("argv.py", "import sys, os, json\nprint(json.dumps([sys.argv[1], os.environ['FREIGHT_PARAM_X']]))\n")
    nasty = ["a b; rm -rf ~", "$(id)", "`id`", "'quoted'"]
    record = project.record("run", "--env", "current", "--sweep", "x=" + ",".join(nasty), "argv.py", "{x}")
    assert tasks_by_state(record) == {"succeeded": [0, 1, 2, 3]}
    outputs = [json.loads((Path(record["run_dir"]) / "tasks" / str(i) / "stdout.log").read_text().strip())
               for i in range(4)]
    assert outputs == [[v, v] for v in nasty]


def test_crash_kill_and_timeout_are_failures_and_the_rest_goes_on(project):
    project.write("bad.py", """
import os, signal, sys, time
n = int(sys.argv[1])
if n == 1:
    print("about to fail", file=sys.stderr); raise SystemExit(3)
if n == 2:
    os.kill(os.getpid(), signal.SIGKILL)
if n == 3:
    time.sleep(60)
print("fine")
""")
    done = project.freight("run", "--json", "--env", "current", "--time", "2s", "--sweep", "n=0,1,2,3,4",
                           "bad.py", "{n}", env={"FREIGHT_KILL_GRACE": "1"})
    assert done.returncode == 1
    tasks = {t["index"]: t for t in json.loads(done.stdout)["tasks"]}
    assert tasks[0]["state"] == tasks[4]["state"] == "succeeded"
    assert (tasks[1]["state"], tasks[1]["exit_code"]) == ("failed", 3)
    assert (tasks[2]["state"], tasks[2]["exit_code"]) == ("failed", 128 + signal.SIGKILL)
    assert tasks[3]["state"] == "failed" and "timeout" in tasks[3]["reason"]
    logs = project.freight("logs", "--stderr")  # the first failed task by default
    assert "about to fail" in logs.stdout


def test_killed_supervisor_then_retry_finishes_without_rerunning_successes(project, tmp_path):
    project.write("count.py", COUNTING)
    count_dir = tmp_path / "counts"
    env = {"COUNT_DIR": str(count_dir), "SLOW": "2,3", "FREIGHT_LOCAL_CPUS": "2"}
    record = project.record("run", "--no-wait", "--env", "current", "--sweep", "n=0,1,2,3,4,5",
                            "count.py", "{n}", env=env)
    run_dir = Path(record["run_dir"])
    supervisor = json.loads((run_dir / "local-supervisors.json").read_text())[0]
    wait_for(lambda: state_of(run_dir, 2).get("state") == "running" and state_of(run_dir, 3).get("state") == "running")
    os.killpg(supervisor, signal.SIGKILL)  # freight's own process (and its task wrappers) die
    wait_for(lambda: not pid_alive(supervisor))

    status = project.record("status", env=env)
    by_state = tasks_by_state(status)
    assert by_state["succeeded"] == [0, 1]
    assert set(by_state["lost"]) == {2, 3}  # were running when their wrapper died
    assert by_state["pending"] == [4, 5]  # never started, nobody left to start them

    done = project.freight("retry", "--json", env={**env, "SLOW": ""})
    assert done.returncode == 0, done.stderr
    assert tasks_by_state(json.loads(done.stdout)) == {"succeeded": [0, 1, 2, 3, 4, 5]}
    ran = {int(p.name.split("-")[1]): p.read_text().count("ran") for p in count_dir.iterdir()}
    assert ran[0] == ran[1] == ran[4] == ran[5] == 1  # succeeded or never-started: exactly once
    assert ran[2] == ran[3] == 2  # lost ones ran again


def test_cancel_stops_running_and_unstarted_tasks(project, tmp_path):
    project.write("count.py", COUNTING)
    env = {"COUNT_DIR": str(tmp_path / "c"), "SLOW": "0,1,2,3", "FREIGHT_LOCAL_CPUS": "2"}
    record = project.record("run", "--no-wait", "--env", "current", "--sweep", "n=0,1,2,3",
                            "count.py", "{n}", env=env)
    run_dir = Path(record["run_dir"])
    wait_for(lambda: state_of(run_dir, 0).get("state") == "running" and state_of(run_dir, 1).get("state") == "running")
    assert project.freight("cancel").returncode == 0
    done = project.freight("wait", "--json", env=env)
    assert done.returncode == 1
    assert tasks_by_state(json.loads(done.stdout)) == {"cancelled": [0, 1, 2, 3]}
    assert project.freight("retry", "--no-wait", env=env).returncode == 0  # cancelled ones may run again
    project.freight("cancel")
    project.freight("wait")


def test_max_parallel_and_gpus_are_handed_out_one_task_at_a_time(project, tmp_path):
    project.write("gpu.py", """
import os, sys, time
from pathlib import Path
slots = Path(sys.argv[1]); slots.mkdir(exist_ok=True)
mine = slots / os.environ["CUDA_VISIBLE_DEVICES"]
assert not mine.exists(), "GPU handed to two tasks at once"
mine.write_text("busy")
running = len(list(slots.iterdir()))
with open(slots.parent / "max.txt", "a") as f: f.write(f"{running}\\n")
time.sleep(0.3)
mine.unlink()
print(os.environ["CUDA_VISIBLE_DEVICES"])
""")
    record = project.record("run", "--env", "current", "--gpus", "1", "--sweep", "n=range:0:6",
                            "gpu.py", str(tmp_path / "slots"),
                            env={"FREIGHT_LOCAL_GPUS": "0,1", "FREIGHT_LOCAL_CPUS": "8"})
    assert tasks_by_state(record) == {"succeeded": list(range(6))}
    devices = {(Path(record["run_dir"]) / "tasks" / str(i) / "stdout.log").read_text().strip() for i in range(6)}
    assert devices <= {"0", "1"}
    assert max(int(x) for x in (tmp_path / "max.txt").read_text().split()) <= 2


@pytest.mark.parametrize("args, message", [
    (["--cpus", "0"], "cpus"),
    (["--cpus", "4096"], "CPUs"),
    (["--gpus", "1"], "GPU"),
    (["--sweep", "lr="], "lr"),
    (["--mem", "lots"], "mem"),
])
def test_bad_run_options_are_one_line_errors_with_exit_2(project, args, message):
    project.write("t.py", "print(1)\n")
    done = project.freight("run", "--env", "current", *args, "t.py", env={"FREIGHT_LOCAL_GPUS": ""})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("freight: error:") and message in lines[0]
    assert "Traceback" not in done.stderr
    assert not (project.root / ".freight" / "runs").exists() or not any((project.root / ".freight" / "runs").iterdir())


def test_missing_script_is_exit_2(project):
    done = project.freight("run", "nope.py")
    assert done.returncode == 2 and "nope.py" in done.stderr and "Traceback" not in done.stderr


def test_two_runs_at_once_share_the_store_safely(project, tmp_path):
    import subprocess
    import sys
    project.write("t.py", "import freight, sys; freight.report(v=int(sys.argv[1]))\n")
    procs = [subprocess.Popen([sys.executable, "-m", "freight", "run", "--json", "--env", "current",
                               "--sweep", f"n=range:{k * 10}:{k * 10 + 10}", "t.py", "{n}"],
                              cwd=project.root, stdout=subprocess.PIPE, text=True) for k in range(2)]
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(tasks_by_state(o) == {"succeeded": list(range(10))} for o in outputs)
    assert len(RunStore(project.root / ".freight").list_runs()) == 2


def test_supervisor_exit_wakes_only_a_live_process():
    """A pidfd of an exited (zombie) supervisor would end every sleep at once: none is made."""
    import subprocess
    import time

    from freight.sched.local import _pidfd

    live = subprocess.Popen(["sleep", "30"])
    gone = subprocess.Popen(["true"])
    try:
        while pid_alive(gone.pid):  # exited, not yet reaped: a zombie
            time.sleep(0.01)
        assert _pidfd(gone.pid) is None
        fd = _pidfd(live.pid)
        assert isinstance(fd, int)
        os.close(fd)
    finally:
        live.kill()
        live.wait()
        gone.wait()
