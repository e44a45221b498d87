"""`--deps outside`: the image holds only the OS and Python; a uv environment made once inside
the image on the project's storage is bound in. Adding a package makes a new environment and
no new image. Real runs with Podman and ch-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from building import BASE, build_env, calls, need_engine, write_project  # noqa: F401
from clusters import shellcheck

from freight.image.outside import READY, create_argv, env_dir

pytestmark = pytest.mark.network
SCRIPT = "import os, sys, six\nprint(sys.executable, six.__version__, os.path.exists('/opt/venv'))\n"


def run_outside(root: Path, engine: str) -> tuple[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "freight", "run", "--json", "--image", "auto", "--deps", "outside",
                           "--base", BASE, "--engine", engine, "main.py"], cwd=root, capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["tasks"][0]["state"] == "succeeded"
    job = json.loads((root / ".freight" / "runs" / record["id"] / "job.json").read_text())
    output = (root / ".freight" / "runs" / record["id"] / "tasks" / "0" / "stdout.log").read_text()
    return job["container"]["image"], output


@pytest.mark.parametrize("engine", ["podman", "charliecloud"])
def test_packages_come_from_the_outside_environment(build_env, tmp_path, engine):
    need_engine(engine)
    if engine == "charliecloud":
        from building import import_base_for_charliecloud

        from freight.image.builders import get_builder

        import_base_for_charliecloud(get_builder("charliecloud").environ())
    root = write_project(tmp_path / "proj", {"main.py": SCRIPT})
    image, output = run_outside(root, engine)
    python, version, has_venv = output.split()
    assert python.startswith(str(root / ".freight" / "envs")) and has_venv == "False"
    assert (Path(python).parents[1] / READY).exists()
    # a new package: a new environment next to the first one, the same image, no build
    _, log = build_env
    before = len(calls(log))
    (root / "main.py").write_text("import idna\n" + SCRIPT)
    image_again, output = run_outside(root, engine)
    assert image_again == image
    assert not [c for c in calls(log)[before:] if " build " in f" {c} "]
    assert output.split()[0] != python and len(list((root / ".freight" / "envs").glob("*/" + READY))) == 2


def test_env_folder_follows_image_and_requirements(tmp_path):
    one = env_dir(str(tmp_path), "img:1", "six==1.17.0\n")
    assert one == env_dir(str(tmp_path), "img:1", "six==1.17.0\n")
    assert one != env_dir(str(tmp_path), "img:2", "six==1.17.0\n")
    assert one != env_dir(str(tmp_path), "img:1", "six==1.16.0\n")
    assert one.parent == tmp_path / ".freight" / "envs"


def test_the_create_command_passes_values_as_arguments(tmp_path):
    argv = create_argv(tmp_path / "a b'c", tmp_path / "req.txt", hashed=True)
    assert argv[:2] == ["sh", "-c"] and argv[4:] == [str(tmp_path / "a b'c"), str(tmp_path / "req.txt"),
                                                     "/opt/freight-uv", "--require-hashes"]
    assert "a b'c" not in argv[2]  # the script itself holds no value
    script = tmp_path / "create.sh"
    script.write_text("#!/bin/sh\n" + argv[2] + "\n")
    shellcheck(script)
