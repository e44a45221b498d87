"""`freight run --nodes N --torchrun`: one torchrun per node meeting at a c10d rendezvous.

Real torch (CPU, gloo) on the local target and on the two-node Slurm of ci/slurm.sh; Grid
Engine's parallel environments are rendered and refused without one (CI's has one host)."""

import json
from pathlib import Path

import pytest
from clusters import shellcheck
from conftest import needs, processes_of
from support import tasks_by_state, wait_for

from freight.errors import ConfigError
from freight.launchers import Launch, render
from freight.launchers.torchrun import program_args
from freight.runs.store import RunStore
from freight.sched.sge import SgeTarget
from freight.spec.job import Job
from freight.spec.resources import Resources

ALL_REDUCE = """
import json, os
import torch, torch.distributed as dist
dist.init_process_group("gloo")
total = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(total)
print(json.dumps({"rank": dist.get_rank(), "world": dist.get_world_size(), "sum": total.item(),
                  "node": os.environ.get("SLURMD_NODENAME", "")}), flush=True)
dist.destroy_process_group()
"""


def ranks(record: dict) -> list[dict]:
    stdout = (Path(record["run_dir"]) / "tasks" / "0" / "stdout.log").read_text()
    # two processes write one log: lines may interleave, so read each JSON object found
    decoder, found, text = json.JSONDecoder(), [], stdout
    while "{" in text:
        obj, end = decoder.raw_decode(text[text.index("{"):])
        found.append(obj)
        text = text[text.index("{") + end:]
    return sorted(found, key=lambda r: r["rank"])


def run_all_reduce(project, target: str, env: dict | None = None) -> dict:
    needs("torch")
    project.write("allreduce.py", ALL_REDUCE)
    done = project.freight("run", "--json", "--target", target, "--nodes", "2", "--torchrun",
                           "--env", "current", "allreduce.py", env=env, timeout=400)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    log = (Path(record["run_dir"]) / "tasks" / "0" / "stderr.log").read_text()
    assert tasks_by_state(record) == {"succeeded": [0]}, log
    assert "rendezvous c10d at" in log and "settings:" in log  # the settings in force, logged
    wait_for(lambda: not processes_of(record["run_dir"]), seconds=60)
    return record


def test_a_gloo_all_reduce_over_two_local_launchers(project):
    out = ranks(run_all_reduce(project, "local"))
    assert [(r["rank"], r["world"], r["sum"]) for r in out] == [(0, 2, 3.0), (1, 2, 3.0)]


def test_a_gloo_all_reduce_over_two_slurm_nodes(project, slurm_multi):
    out = ranks(run_all_reduce(project, "slurm", slurm_multi))
    assert [(r["rank"], r["sum"]) for r in out] == [(0, 3.0), (1, 3.0)]
    assert sorted(r["node"] for r in out) == ["n1", "n2"]  # one process on each node


@pytest.mark.parametrize(("driver", "expected"), [
    (["/venv/bin/python", "train.py", "--lr", "0.1"], ["--", "train.py", "--lr", "0.1"]),
    (["python3", "-m", "pkg.train", "x"], ["-m", "pkg.train", "x"]),
    (["./train.sh", "a b"], ["--no-python", "--", "./train.sh", "a b"]),
])
def test_the_program_follows_torchruns_own_options(driver, expected):
    assert program_args(driver, "/venv/bin/python") == expected


@pytest.mark.parametrize("scheduler", ["slurm", "sge", "local"])
def test_the_torchrun_script_passes_shellcheck_with_one_launcher_per_node(tmp_path, scheduler):
    text = render(Launch(launcher="torchrun", scheduler=scheduler, nodes=2, cpus=2, gpus=4, python="python3",
                         driver=["python3", "train.py", "$HOME; rm -rf ~"], prefix=["podman", "run", "img"]))
    script = tmp_path / "torchrun.sh"
    script.write_text(text)
    shellcheck(script)
    assert "--nproc-per-node=4" in text and "--rdzv-backend=c10d" in text
    assert "-- train.py '$HOME; rm -rf ~'" in text
    assert 'on_node "$node" bash "${BASH_SOURCE[0]}" --node "$ENDPOINT" "$RDZV_ID"' in text


def sge_run(tmp_path: Path, options: dict):
    job = Job(name="ddp", command=["python", "train.py"], workdir=str(tmp_path), launcher="torchrun",
              resources=Resources(nodes=2, cpus=4), target_options=options)
    return job, RunStore(tmp_path / ".freight").create_run(job, "sge")


def test_grid_engine_asks_a_host_spanning_parallel_environment_for_every_node(tmp_path):
    _, run = sge_run(tmp_path, {"node_pe": "mpi"})
    [script] = SgeTarget().render(run, [0]).values()
    assert "#$ -pe mpi 8\n" in script  # 2 nodes x 4 CPUs: the PE's allocation rule spreads them


def test_grid_engine_without_such_a_parallel_environment_refuses_in_one_line(tmp_path):
    job, _ = sge_run(tmp_path, {})
    with pytest.raises(ConfigError) as caught:
        SgeTarget().check(job)
    assert "parallel environment that spans hosts" in caught.value.problem
    assert "node_pe" in caught.value.fix


def test_grid_engine_has_no_ray_launcher(tmp_path):
    job = Job(name="r", command=["python", "d.py"], workdir=str(tmp_path), launcher="ray",
              resources=Resources(nodes=2), target_options={"node_pe": "mpi"})
    with pytest.raises(ConfigError, match="cannot run --ray"):
        SgeTarget().check(job)
