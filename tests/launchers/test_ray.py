"""`freight run --nodes N --ray`: a Ray cluster over the task's nodes, the program as its driver.

Real Ray on real Slurm (the two-node cluster of ci/slurm.sh: slurmd n1 and n2 on this host)
and on the local target. Each Ray start costs seconds on two cores, so few tests start one.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clusters import shellcheck
from conftest import needs, processes_of
from support import state_of, tasks_by_state, wait_for

from freight.errors import MissingToolError
from freight.launchers import Launch, render, require_module

DRIVER = """
import os, time, ray
ray.init()  # the address comes from RAY_ADDRESS
@ray.remote(num_cpus=1, scheduling_strategy="SPREAD")
def where(i):
    time.sleep(0.05)  # so one node cannot take every task before the others get one
    return ray.get_runtime_context().get_node_id(), os.environ.get("SLURMD_NODENAME", "")
seen = ray.get([where.remote(i) for i in range(100)])
alive = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
print(json.dumps({"tasks": len(seen), "nodes": sorted({n for n, _ in seen}), "alive": sorted(alive),
                  "slurm_nodes": sorted({s for _, s in seen}), "address": os.environ["RAY_ADDRESS"]}))
"""

WAITING = """
import os, pathlib, time, ray
ray.init()
ray.get([ray.remote(lambda: 1).remote() for _ in range(4)])
pathlib.Path(os.environ["READY"]).write_text("up")
time.sleep(600)
"""


@pytest.fixture(autouse=True)
def _ray():
    needs("ray")


def write_driver(project, text: str) -> None:
    project.write("driver.py", "import json\n" + text)


def driver_output(record: dict) -> dict:
    stdout = Path(record["run_dir"]) / "tasks" / "0" / "stdout.log"
    return json.loads([line for line in stdout.read_text().splitlines() if line.startswith("{")][-1])


def test_a_two_node_slurm_job_runs_a_ray_cluster_and_leaves_nothing(project, slurm_multi):
    write_driver(project, DRIVER)
    done = project.freight("run", "--json", "--target", "slurm", "--nodes", "2", "--ray", "--env", "current",
                           "driver.py", env=slurm_multi, timeout=300)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    task_log = (Path(record["run_dir"]) / "tasks" / "0" / "stderr.log").read_text()
    assert tasks_by_state(record) == {"succeeded": [0]}, task_log
    out = driver_output(record)
    assert out["tasks"] == 100 and len(out["alive"]) == 2
    assert out["nodes"] == out["alive"]  # every node ran some of the 100 tasks
    assert out["slurm_nodes"] == ["n1", "n2"]  # the worker is the srun step on the second node
    assert not out["address"].endswith(":6379")  # a free port, not Ray's fixed default
    assert "Ray cluster of 2 node(s) up at" in task_log
    wait_for(lambda: not processes_of(record["run_dir"]), seconds=60)


def test_cancelling_a_local_ray_task_stops_every_ray_process(project, tmp_path):
    write_driver(project, WAITING)
    ready = tmp_path / "ready"
    done = project.freight("run", "--json", "--no-wait", "--target", "local", "--nodes", "2", "--ray",
                           "--env", "current", "driver.py", env={"READY": str(ready)})
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    run_dir = record["run_dir"]
    wait_for(ready.exists, seconds=240)
    assert any("raylet" in cmd for cmd in processes_of(run_dir))  # two nodes' worth running now
    cancelled = project.freight("cancel", record["id"])
    assert cancelled.returncode == 0, cancelled.stderr
    wait_for(lambda: state_of(run_dir, 0).get("state") == "cancelled", seconds=120)
    wait_for(lambda: not processes_of(run_dir), seconds=60)
    assert "Ray cluster of 2 node(s) up" in (Path(run_dir) / "tasks" / "0" / "stderr.log").read_text()


def test_several_nodes_need_a_launcher_or_a_target_that_has_them(project):
    project.write("job.py", "print(1)\n")
    local = project.freight("run", "--target", "local", "--nodes", "2", "--env", "current", "job.py")
    assert local.returncode == 2
    assert "target 'local' cannot run several nodes (--nodes)" in local.stderr
    assert len(local.stderr.strip().splitlines()) == 1


def test_a_missing_ray_is_one_line_naming_the_extra(tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    with pytest.raises(MissingToolError) as caught:
        require_module("ray", str(bare / "bin" / "python"))
    assert "ray is not installed" in caught.value.problem
    assert caught.value.fix == "pip install 'freight[ray]'"
    require_module("ray", sys.executable)  # this one has it: no error


def launch(scheduler: str, prefix: list[str] | None = None) -> Launch:
    return Launch(launcher="ray", scheduler=scheduler, nodes=3, cpus=4, gpus=2, python="/opt/py env/bin/python",
                  driver=["/opt/py env/bin/python", "train.py", "$(touch /tmp/pwned)", "it's"],
                  prefix=prefix or [], job_tag="freight-42")


@pytest.mark.parametrize("scheduler", ["slurm", "sge", "local"])
def test_the_ray_script_quotes_every_value_and_passes_shellcheck(tmp_path, scheduler):
    text = render(launch(scheduler, ["ch-run", "--set-env=A='b c'", "/images/my img", "--"]))
    script = tmp_path / "ray.sh"
    script.write_text(text)
    shellcheck(script)
    assert "DRIVER=('/opt/py env/bin/python' train.py '$(touch /tmp/pwned)' 'it'\"'\"'s')" in text
    assert "RUN=(ch-run '--set-env=A='\"'\"'b c'\"'\"'' '/images/my img' --)" in text
    assert "--num-cpus=4 --num-gpus=2" in text
    assert ("srun --nodes=1" in text) == (scheduler == "slurm")
    assert ("qrsh -inherit" in text) == (scheduler == "sge")
    assert "=6379" not in text and "=8265" not in text  # no fixed port anywhere


def test_an_inner_srun_runs_without_the_outer_steps_layout(tmp_path):
    text = render(launch("slurm"))
    line = next(line for line in text.splitlines() if "setsid env" in line)
    for name in ("SLURM_NTASKS", "SLURM_CPU_BIND", "SLURM_MEM_PER_CPU", "SLURM_STEP_ID"):
        assert f"-u {name} " in line + " "


@pytest.mark.parametrize("engine", ["charliecloud", "podman"])
def test_in_an_image_without_ray_the_launcher_says_so_in_one_line(project, engine):
    """The launcher runs Ray and the driver through the engine: the check runs in the image."""
    from ci_images import image_for
    from ci_images import require as require_images

    image = image_for(engine, require_images(engine))
    write_driver(project, DRIVER)
    record = json.loads(project.freight("run", "--json", "--target", "local", "--nodes", "2", "--ray",
                                        "--image", image, "--engine", engine, "driver.py").stdout)
    assert tasks_by_state(record) == {"failed": [0]}
    state = state_of(record["run_dir"], 0)
    assert state["exit_code"] == 127
    assert state["log_tail"].splitlines()[-1] == (
        "freight: ray is not installed for python3: pip install 'freight[ray]' (or ray itself) where the program runs")
