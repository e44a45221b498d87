"""Containers on every target, for real: a sweep whose program runs inside the image that
`bash ci/containers.sh up` makes, with Charliecloud and Podman, on the local target, the real
Slurm (`bash ci/slurm.sh up`) and the real Grid Engine (`bash ci/sge.sh up`).

Each run proves: the program ran in the image (it reads a marker file only the image has), the
params reached it literally (spaces, quotes, $, ;), its freight.report results came back to
the host, and neither the host's $HOME value nor its content reached it. Skipped with the
script that starts what is missing; failed instead in CI."""

import json
import os
import shutil
from pathlib import Path

import pytest
from ci_images import image_for, require
from clusters import need_sge, need_slurm
from support import tasks_by_state

VALUES = ["a b", "it's \"quoted\"", "$HOME; echo pwned `id`"]
SHOW = """
import json, os, sys
from freight import report
home = os.environ.get("HOME")
marker = open("/etc/freight-ci-image").read().strip()
secret = os.path.join(sys.argv[2], "secret.txt")
report(marker=marker, value=sys.argv[1])
print(json.dumps({"arg": sys.argv[1], "param": os.environ["FREIGHT_PARAM_X"], "home": home,
                  "sees_home": os.path.exists(secret), "python": sys.executable}))
"""


def require_target(target: str) -> None:
    """Skip (fail in CI) when the cluster is not up, naming the script that starts it."""
    {"local": lambda: None, "slurm": need_slurm, "sge": need_sge}[target]()


@pytest.fixture
def host_home():
    """A $HOME for freight outside /tmp (ch-run shares /tmp), holding a file the program must not see."""
    home = Path("/var/tmp") / f"freight-home-{os.getpid()}-{os.urandom(4).hex()}"
    home.mkdir()
    (home / "secret.txt").write_text("host only\n")
    yield home
    shutil.rmtree(home)


def outputs(record: dict) -> list[dict]:
    run_dir = Path(record["run_dir"])
    return [json.loads((run_dir / "tasks" / str(i) / "stdout.log").read_text()) for i in range(len(record["tasks"]))]


@pytest.mark.parametrize("target", ["local", "slurm", "sge"])
@pytest.mark.parametrize("engine", ["charliecloud", "podman"])
def test_a_sweep_runs_inside_the_image_with_literal_params_and_results(project, host_home, engine, target):
    images = require(engine)
    require_target(target)
    project.write("show.py", SHOW)
    project.write("rows.jsonl", "".join(json.dumps({"x": value}) + "\n" for value in VALUES))
    record = project.record("run", "--target", target, "--engine", engine, "--image", image_for(engine, images),
                            "--sweep-file", "rows.jsonl", "show.py", "{x}", str(host_home),
                            env={"HOME": str(host_home)})
    assert tasks_by_state(record) == {"succeeded": [0, 1, 2]}, record
    seen = outputs(record)
    assert [(o["arg"], o["param"]) for o in seen] == [(v, v) for v in VALUES]
    assert all(o["home"] != str(host_home) and not o["sees_home"] for o in seen)
    assert {o["python"] for o in seen} == {"/usr/bin/python3"}  # the image's, not this venv's
    results = [json.loads((Path(record["run_dir"]) / "tasks" / str(i) / "result.json").read_text()) for i in range(3)]
    assert results == [{"marker": images["FREIGHT_CI_MARKER"], "value": v} for v in VALUES]
    assert not Path("/etc/freight-ci-image").exists()  # the marker is the image's alone


def test_an_engine_missing_on_the_node_fails_the_task_with_the_reason(project):
    """On a cluster the engine is not looked for at submit time (it lives on the nodes); the
    task's state says what is missing."""
    require_target("slurm")
    if shutil.which("apptainer"):
        pytest.skip("apptainer is installed here")
    project.write("t.py", "print('never')\n")
    record = project.record("run", "--target", "slurm", "--engine", "apptainer", "--image", "/x/torch.sif", "t.py")
    [task] = record["tasks"]
    state = json.loads((Path(record["run_dir"]) / "tasks" / "0" / "state.json").read_text())
    assert (task["state"], state["exit_code"]) == ("failed", 127)
    assert state["reason"].startswith("container engine 'apptainer' needs apptainer, which is not on PATH here")


def test_an_engine_missing_here_is_refused_before_submitting_on_the_local_target(project):
    if shutil.which("apptainer"):
        pytest.skip("apptainer is installed here")
    project.write("t.py", "print('never')\n")
    done = project.freight("run", "--engine", "apptainer", "--image", "torch.sif", "t.py")
    assert done.returncode == 2
    assert done.stderr.startswith("freight: error: container engine 'apptainer' needs apptainer")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (project.root / ".freight" / "runs").exists() or not any((project.root / ".freight" / "runs").iterdir())


@pytest.mark.parametrize(("args", "message"), [
    (["--engine", "pyxis", "--image", "ubuntu:22.04"], "the pyxis engine is Slurm's srun plugin"),
    (["--engine", "charliecloud", "--image", "img", "--mount", "/data:ro"], "ch-run cannot bind read-only"),
    (["--engine", "podman", "--image", "img", "--mount", "/data:relative"], "the container path must be absolute"),
])
def test_container_settings_that_cannot_work_are_one_line_errors(project, args, message):
    project.write("t.py", "print('never')\n")
    done = project.freight("run", "--target", "sge", *args, "t.py")
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_time_limit_stops_a_program_in_a_container(project):
    images = require("podman")
    project.write("nap.py", "import time\nprint('up', flush=True)\ntime.sleep(120)\n")
    record = project.record("run", "--engine", "podman", "--image", images["FREIGHT_CI_PODMAN_IMAGE"],
                            "--time", "0:00:02", "nap.py")
    [task] = record["tasks"]
    assert (task["state"], task["reason"]) == ("failed", "timeout")


@pytest.mark.parametrize(("key", "engine"), [("FREIGHT_CI_CH_SQFS", "charliecloud"), ("FREIGHT_CI_CH_DIR", "charliecloud"),
                                            ("FREIGHT_CI_PODMAN_IMAGE", "podman")])
def test_without_engine_the_kind_of_image_picks_one(project, key, engine):
    images = require(engine)
    project.write("t.py", "print(open('/etc/freight-ci-image').read().strip())\n")
    record = project.record("run", "--image", images[key], "t.py")
    assert tasks_by_state(record) == {"succeeded": [0]}
    task_dir = Path(record["run_dir"]) / "tasks" / "0"
    assert f"freight: running in {engine} image {images[key]}" in (task_dir / "stderr.log").read_text()
    assert (task_dir / "stdout.log").read_text().strip() == images["FREIGHT_CI_MARKER"]
