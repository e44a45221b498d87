"""engines/base.py and the registry (engines/__init__.py): mount specs, engine lookup and
choice, the import cost the task wrapper pays, and every engine's argv through a shell script."""

import shlex
import shutil
import subprocess
import sys

import pytest

from freight.engines import ENGINES, candidates_for, get_engine, pick_engine
from freight.engines.base import Mount, parse_mount, parse_mounts
from freight.errors import ConfigError, MissingToolError
from freight.spec.job import ENGINES as JOB_ENGINES


@pytest.mark.parametrize(("text", "mount"), [
    ("/data", Mount("/data", "/data")),
    ("/data:ro", Mount("/data", "/data", True)),
    ("/scratch/me:/data", Mount("/scratch/me", "/data")),
    ("/scratch/me:/data:ro", Mount("/scratch/me", "/data", True)),
    ("/scratch/me:/data:rw", Mount("/scratch/me", "/data", False)),
    ("inputs/", Mount("/proj/inputs", "/proj/inputs")),
    ("../shared:/shared/", Mount("/shared", "/shared")),
])
def test_mount_specs(text, mount):
    assert parse_mount(text, "/proj") == mount


def test_home_is_expanded_in_the_host_path(monkeypatch):
    monkeypatch.setenv("HOME", "/home/ada")
    assert parse_mount("~/data:/data") == Mount("/home/ada/data", "/data")


@pytest.mark.parametrize("text", ["", ":/x", "/a:", "/a:b:c:ro", "/a:relative"])
def test_bad_mount_specs_are_one_line_config_errors(text):
    with pytest.raises(ConfigError, match="mount"):
        parse_mount(text, "/proj")


def test_a_later_mount_at_the_same_container_path_replaces_the_earlier():
    assert parse_mounts(["/a:/data", "/proj", "/b:/data:ro"], "/proj") == [
        Mount("/proj", "/proj"), Mount("/b", "/data", True)]


def test_the_registry_knows_every_engine_a_job_may_name():
    assert set(ENGINES) == set(JOB_ENGINES)
    for name in ENGINES:
        engine = get_engine(name)
        assert engine.name == name and engine.program and engine.install_hint and engine.gpu_note


def test_an_unknown_engine_gets_a_did_you_mean():
    with pytest.raises(ConfigError) as info:
        get_engine("podmn")
    assert info.value.one_line() == "unknown container engine 'podmn' (fix: did you mean 'podman'?)"


def test_candidates_follow_the_image_kind(tmp_path):
    assert candidates_for("/i/torch.sif") == ("apptainer", "singularity")
    assert candidates_for("/i/img.sqfs") == ("charliecloud",)
    assert candidates_for("/i/img.sqsh") == ("enroot",)
    assert candidates_for("docker://python:3.11") == ("apptainer", "singularity")
    assert candidates_for(str(tmp_path))[0] == "charliecloud"
    assert candidates_for("docker.io/library/python:3.11") == ("podman", "docker", "charliecloud")
    assert "pyxis" not in candidates_for(None)


def test_a_named_engine_that_is_missing_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(MissingToolError) as info:
        pick_engine("apptainer")
    assert "'apptainer' needs apptainer, which is not on PATH here (fix: install Apptainer" in info.value.one_line()
    with pytest.raises(MissingToolError, match="no container engine for image 'x.sif' here"):
        pick_engine(None, image="x.sif")


def test_pick_engine_takes_the_first_installed_one(monkeypatch):
    found = [name for name in candidates_for(None) if shutil.which(get_engine(name).program)]
    if not found:
        pytest.skip("no container engine installed: `sudo bash ci/containers.sh up` installs two")
    assert pick_engine(None).name == found[0]


def test_the_task_wrapper_pays_no_pydantic_for_containers():
    code = ("import sys, freight.task, freight.engines.wrap, freight.engines.charliecloud;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'typer', 'rich', 'jinja2')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_venv_helpers_still_import_from_the_package():
    from freight.engines import prepare_environment, shim_pythonpath
    from freight.engines.venv import prepare_environment as direct

    assert prepare_environment is direct and callable(shim_pythonpath)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt install shellcheck)")
@pytest.mark.parametrize("name", sorted(ENGINES))
def test_each_engine_argv_survives_a_generated_script_and_passes_shellcheck(name, tmp_path):
    """Scripts that embed an engine command (freight script, shell) quote each item: the argv
    that reaches the engine is exactly the one rendered."""
    env = {"P": "a b; $HOME `id` 'q' \"dq\"", "EMPTY": ""}
    argv = get_engine(name).exec_argv("img:1", ["python3", "x.py", "{not a placeholder}", "*"],
                                      mounts=["/proj", *([] if name == "enroot" else ["/my data:/data"])],
                                      env=env, workdir="/proj", gpus=1)
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/bash\nset -euo pipefail\nprintf '%s\\0' " + shlex.join(argv) + "\n")
    lint = subprocess.run(["shellcheck", "-S", "warning", "-f", "gcc", str(script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    done = subprocess.run(["bash", str(script)], capture_output=True, check=True, cwd=tmp_path)
    assert done.stdout.decode().split("\0")[:-1] == argv
