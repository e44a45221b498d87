"""engines/wrap.py: what the task wrapper hands a container engine (mounts, the task's
variables, python3), the checks before submitting, and the report shim in the run folder."""

import os
import subprocess
import sys

import pytest
from ci_images import require

from freight.engines.base import Mount
from freight.engines.wrap import (SHIM_DIR, check_container, container_command, engine_env, in_image,
                                  inside_env, install_shim, task_mounts)
from freight.errors import ConfigError, InputError, MissingToolError
from freight.spec.job import Container, Job
from freight.spec.resources import Resources


def test_the_project_and_run_folders_are_bound_at_their_own_paths_then_the_job_mounts():
    assert task_mounts(["data:/data:ro"], "/proj", "/proj/.freight/runs/r1") == [
        Mount("/proj", "/proj"), Mount("/proj/data", "/data", True)]
    assert task_mounts([], "/proj", "/scratch/runs/r1") == [
        Mount("/proj", "/proj"), Mount("/scratch/runs/r1", "/scratch/runs/r1")]


def test_only_the_task_part_of_the_environment_goes_in(tmp_path):
    host = {"HOME": "/home/ada", "PATH": "/usr/bin", "LANG": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "1",
            "SLURM_ARRAY_TASK_ID": "4", "OMP_NUM_THREADS": "2", "SECRET_TOKEN": "x"}
    env = {**host, "OMP_NUM_THREADS": "4", "FREIGHT_TASK_INDEX": "4", "FREIGHT_PARAM_LR": "0.1",
           "PYTHONUNBUFFERED": "1"}
    job = {"env": {"LANG": "C.UTF-8"}}  # the job asked for it: in, even though the host has it too
    assert inside_env(job, str(tmp_path), env, host) == {
        "LANG": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "1", "SLURM_ARRAY_TASK_ID": "4", "OMP_NUM_THREADS": "4",
        "FREIGHT_TASK_INDEX": "4", "FREIGHT_PARAM_LR": "0.1", "PYTHONUNBUFFERED": "1"}


def test_the_report_shim_goes_first_on_pythonpath_when_the_run_has_one(tmp_path):
    (tmp_path / SHIM_DIR).mkdir()
    job = {"env": {"PYTHONPATH": "/proj/src"}}
    inside = inside_env(job, str(tmp_path), {"PYTHONPATH": "/proj/src"}, {})
    assert inside["PYTHONPATH"] == f"{tmp_path / SHIM_DIR}{os.pathsep}/proj/src"


def test_python_means_the_images_python3():
    assert in_image(["python", "t.py"]) == ["python3", "t.py"]
    assert in_image(["python3.11", "t.py"]) == ["python3.11", "t.py"]
    assert in_image(["./run.sh", "python"]) == ["./run.sh", "python"]


def test_the_engine_process_gets_a_user_name_when_the_job_has_none():
    import pwd

    assert engine_env({"PATH": "/usr/bin"})["USER"] == pwd.getpwuid(os.getuid()).pw_name
    assert engine_env({"USER": "ada"})["USER"] == "ada"


def test_a_missing_engine_is_a_freight_error_for_the_task_to_record(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    job = {"container": {"image": "t.sif", "engine": None, "mounts": []}, "workdir": str(tmp_path)}
    with pytest.raises(MissingToolError, match="no container engine for image 't.sif' here"):
        container_command(job, str(tmp_path / "run"), ["python", "t.py"], {}, {})


def test_container_command_wraps_argv_for_the_engine(tmp_path):
    image = require("podman")["FREIGHT_CI_PODMAN_IMAGE"]
    job = {"container": {"image": image, "engine": "podman", "mounts": []}, "workdir": str(tmp_path),
           "resources": {"gpus": 0}, "env": {}}
    wrapped = container_command(job, str(tmp_path / ".freight" / "runs" / "r"), ["python", "-V"],
                                {"FREIGHT_TASK_INDEX": "0"}, {"USER": "ada"})
    assert wrapped.argv[:2] == ["podman", "run"] and wrapped.argv[-3:] == [image, "python3", "-V"]
    assert ["-e", "FREIGHT_TASK_INDEX=0"] == wrapped.argv[wrapped.argv.index("-e"):][:2]
    assert wrapped.env == {"USER": "ada"} and wrapped.note == f"freight: running in podman image {image}"


def job_with(tmp_path, **container) -> Job:
    return Job(name="j", command=["python", "t.py"], workdir=str(tmp_path), container=Container(**container),
               resources=Resources())


def test_checks_before_submitting(tmp_path):
    with pytest.raises(ConfigError, match="pyxis engine is Slurm's"):
        check_container(job_with(tmp_path, image="ubuntu", engine="pyxis"), "sge")
    with pytest.raises(ConfigError, match="ch-run cannot bind read-only"):
        check_container(job_with(tmp_path, image="i", engine="charliecloud", mounts=["/d:ro"]), "slurm")
    # on a cluster the engine is not looked for here: no error for an engine this machine lacks
    check_container(job_with(tmp_path, image="/x/t.sif", engine="singularity"), "slurm")


def test_a_missing_image_file_is_refused_on_the_local_target(tmp_path):
    require("podman")
    with pytest.raises(InputError, match="container image not found"):
        check_container(job_with(tmp_path, image=str(tmp_path / "nope"), engine="podman"), "local")


def test_the_shim_lets_the_images_python_import_freight_report_only(tmp_path):
    install_shim(str(tmp_path))
    code = "import freight; from freight import report; print(freight.__file__); print(report.__module__)"
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(tmp_path / SHIM_DIR)})  # -S: not this venv's freight
    assert done.stdout.splitlines() == [str(tmp_path / SHIM_DIR / "freight" / "__init__.py"), "freight.report"]


def test_the_log_note_says_how_gpus_reach_the_container_and_that_ch_run_has_no_flag(tmp_path):
    image = require("charliecloud")["FREIGHT_CI_CH_SQFS"]
    job = {"container": {"image": image, "engine": "charliecloud", "mounts": []}, "workdir": str(tmp_path),
           "resources": {"gpus": 1}, "env": {}}
    wrapped = container_command(job, str(tmp_path / "run"), ["python", "-V"], {}, {"USER": "ada"})
    assert wrapped.note.endswith("; GPUs: ch-run has no GPU flag: the host's /dev is visible and "
                                 "CUDA_VISIBLE_DEVICES is passed in; inject the driver libraries with "
                                 "`ch-fromhost --nvidia IMAGE`")
    flags = [item for item in wrapped.argv[:wrapped.argv.index("--")] if item.startswith("-")]
    assert not any("gpu" in flag or flag == "--nv" for flag in flags)
