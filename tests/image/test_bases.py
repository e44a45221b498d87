"""Base image choice: the table in freight/data/bases.toml, read by freight.image.bases."""

import subprocess
import sys

import pytest

from freight.image import bases


@pytest.mark.parametrize("requirements, image, kind", [
    (["numpy", "pandas"], "python:3.11-slim", "python"),
    (["torch==2.5.1"], "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", "cuda"),
    (["torch==2.1.0", "torchvision"], "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04", "cuda"),
    (["torch>=2.2,<2.4"], "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04", "cuda"),
    (["torch~=2.7.0"], "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04", "cuda"),
    (["tensorflow==2.15.1"], "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04", "cuda"),
    (["tensorflow==2.13.0"], "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", "cuda"),
    (["jax[cuda12]==0.4.30"], "nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04", "cuda"),
    (["jax==0.4.30"], "python:3.11-slim", "python"),  # plain jax is CPU-only
    (["torch==2.5.1", "flash-attn"], "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", "cuda"),
])
def test_choice_table(requirements, image, kind):
    choice = bases.choose(requirements)
    assert (choice.image, choice.kind, choice.warnings) == (image, kind, ())


def test_cuda_base_says_why_and_which_python_apt_gives():
    choice = bases.choose(["torch==2.5.1"])
    assert "torch 2.5.1" in choice.reason and "12.4" in choice.reason
    assert (choice.cuda, choice.python, choice.python_present, choice.devel) == \
        ("12.4", "3.10", False, False)


def test_devel_only_when_something_compiles_cuda_code():
    assert not bases.choose(["torch==2.5.1", "numpy"]).devel
    assert bases.choose(["torch==2.5.1", "flash-attn"]).devel


def test_a_locked_version_decides_over_the_specifier():
    choice = bases.choose(["torch"], versions={"torch": "2.8.0"})
    assert choice.image == "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04"


def test_unknown_newer_framework_gets_newest_cuda_and_names_the_refresh_command():
    choice = bases.choose(["torch==9.1.0"])
    newest = max(bases.data()["cuda"], key=lambda v: tuple(map(int, v.split("."))))
    assert choice.cuda == newest
    assert len(choice.warnings) == 1 and bases.REFRESH_COMMAND in choice.warnings[0]
    assert "torch 9.1.0" in choice.warnings[0]


def test_python_slim_follows_the_python_version():
    assert bases.choose(["numpy"], python="3.12").image == "python:3.12-slim"
    assert bases.choose(["numpy"], python="3.99").warnings  # no such image known


@pytest.mark.parametrize("image, kind", [
    ("nvcr.io/nvidia/pytorch:24.03-py3", "ngc"),
    ("localhost/freight-ci/bookworm-py:latest", "custom"),
    ("/images/base.sif", "local"),
])
def test_explicit_base_always_wins(image, kind):
    choice = bases.choose(["torch==2.5.1"], explicit=image, conda="environment.yml")
    assert (choice.image, choice.kind) == (image, kind)


def test_conda_files_get_conda_bases():
    assert bases.choose([], conda="environment.yml").image.startswith("mambaorg/micromamba:")
    assert bases.choose([], conda="requirements.txt").image.startswith("continuumio/miniconda3:")


def test_system_packages_runtime_and_build():
    runtime, build = bases.system_packages(["opencv-python", "psycopg2"], bases.choose([]))
    assert runtime == ["libgl1", "libglib2.0-0", "libpq5"]
    assert {"libpq-dev", "build-essential", "python3-dev"} <= set(build)
    assert bases.system_packages(["numpy"], bases.choose([])) == ([], [])


def test_every_cuda_version_a_framework_names_has_a_tag():
    cuda = bases.data()["cuda"]
    for framework, table in bases.data()["frameworks"].items():
        for minor, versions in table.items():
            assert any(v in cuda for v in versions), (framework, minor)
    for tag in cuda.values():
        assert "-runtime-ubuntu" in tag and tag.rsplit("ubuntu", 1)[1] in bases.data()["ubuntu_python"]


def test_refresh_help_command():
    done = subprocess.run([sys.executable, "-m", "freight.image.bases", "--refresh-help"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.startswith("How to refresh")
    assert "pytorch.org" in done.stdout and "hub.docker.com/r/nvidia/cuda" in done.stdout
