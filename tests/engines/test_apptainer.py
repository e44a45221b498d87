"""engines/apptainer.py: the exact `apptainer exec` / `singularity exec` command lines.
Apptainer is not installable on Debian 12, so these are rendered, not run (README says so)."""

import pytest

from freight.engines import get_engine
from freight.errors import ConfigError

ENV = {"FREIGHT_PARAM_X": "a b, $HOME \"q\"", "OMP_NUM_THREADS": "2"}


def test_apptainer_exec_cleans_the_environment_and_passes_the_task_variables_by_prefix():
    argv = get_engine("apptainer").exec_argv(
        "/images/torch.sif", ["python3", "train.py", "--lr", "0.1"],
        mounts=["/proj", "/scratch/me:/data:ro"], env=ENV, workdir="/proj", gpus=2)
    assert argv == [
        "env", "APPTAINERENV_FREIGHT_PARAM_X=a b, $HOME \"q\"", "APPTAINERENV_OMP_NUM_THREADS=2",
        "apptainer", "exec", "--cleanenv", "--no-home", "--nv",
        "--bind", "/proj:/proj", "--bind", "/scratch/me:/data:ro",
        "--pwd", "/proj", "/images/torch.sif", "python3", "train.py", "--lr", "0.1",
    ]


def test_singularity_uses_its_own_program_and_prefix_and_no_gpu_flag_without_gpus():
    argv = get_engine("singularity").exec_argv(
        "docker://python:3.11", ["python3", "-V"], mounts=["data"], env={"A": "1"}, workdir="/proj")
    assert argv == [
        "env", "SINGULARITYENV_A=1", "singularity", "exec", "--cleanenv", "--no-home",
        "--bind", "/proj/data:/proj/data", "--pwd", "/proj", "docker://python:3.11", "python3", "-V",
    ]


def test_no_variables_no_env_prefix():
    argv = get_engine("apptainer").exec_argv("img.sif", ["true"], mounts=[], env={}, workdir="/w")
    assert argv == ["apptainer", "exec", "--cleanenv", "--no-home", "--pwd", "/w", "img.sif", "true"]


def test_a_path_with_a_comma_cannot_be_bound():
    with pytest.raises(ConfigError, match="apptainer cannot bind '/data/a,b'"):
        get_engine("apptainer").exec_argv("i.sif", ["true"], mounts=["/data/a,b"], env={}, workdir="/w")
