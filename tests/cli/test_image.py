"""`freight image plan|render`, run as a user would."""

import json

import pytest


@pytest.fixture
def cpu_project(project):
    project.write("train.py", "import numpy\n")
    project.write("requirements.txt", "numpy==1.26.4\n")
    project.write(".env", "TOKEN=secret\n")
    project.write("id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
    return project


def test_plan_prints_base_reason_python_requirements_and_hash(cpu_project):
    done = cpu_project.freight("image", "plan", ".", "--no-lock")
    assert done.returncode == 0, done.stderr
    assert "python:3.11-slim" in done.stdout and "CPU-only" in done.stdout
    assert "numpy==1.26.4" in done.stdout and "not locked" in done.stdout
    plan = json.loads(cpu_project.freight("image", "plan", ".", "--no-lock", "--json").stdout)
    assert plan["content_hash"] in done.stdout
    assert plan["base"]["image"] == "python:3.11-slim" and plan["requirements"] == ["numpy==1.26.4"]
    assert plan["ref"].startswith("freight/") and plan["ref"].endswith(":" + plan["tag"])


def test_plan_with_bake_reports_what_stays_out(cpu_project):
    done = cpu_project.freight("image", "plan", ".", "--no-lock", "--bake")
    assert done.returncode == 0, done.stderr
    assert "left out of the image: .env (may hold a secret)" in done.stderr
    assert "left out of the image: id_rsa (may hold a secret)" in done.stderr


def test_base_flag_wins(cpu_project):
    done = cpu_project.freight("image", "plan", ".", "--no-lock", "--json",
                               "--base", "nvcr.io/nvidia/pytorch:24.03-py3")
    plan = json.loads(done.stdout)
    assert plan["base"]["kind"] == "ngc" and plan["env"]["PIP_CONSTRAINT"]


@pytest.mark.parametrize("fmt, first", [
    ("docker", "FROM python:3.11-slim AS builder"),
    ("apptainer", "Bootstrap: docker"),
    ("charliecloud", "FROM python:3.11-slim AS builder"),
])
def test_render_prints_the_recipe(cpu_project, fmt, first):
    done = cpu_project.freight("image", "render", ".", "--format", fmt, "--no-lock")
    assert done.returncode == 0, done.stderr
    assert first in done.stdout


def test_render_writes_a_build_folder_without_secrets(cpu_project, tmp_path):
    out = tmp_path / "build"
    done = cpu_project.freight("image", "render", ".", "-f", "charliecloud", "--bake",
                               "--no-lock", "-o", str(out))
    assert done.returncode == 0, done.stderr
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == ["Dockerfile", "code/requirements.txt", "code/train.py", "freight.env",
                     "requirements.txt", "uv"]
    assert "left out of the image: .env" in done.stderr


def test_bad_input_is_one_line_exit_2(project):
    done = project.freight("image", "plan", "missing.py")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no such file or folder" in done.stderr
    project.write("run.py", "print(1)\n")
    done = project.freight("image", "plan", "run.py", "--python", "x")
    assert done.returncode == 2 and "not like 3.11" in done.stderr


@pytest.mark.network
def test_unresolvable_requirement_is_the_resolvers_message(project):
    project.write("run.py", "print(1)\n")
    project.write("requirements.txt", "freight-no-such-package-xyz==1.0\n")
    done = project.freight("image", "plan", ".")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "cannot lock the requirements:" in done.stderr and "freight-no-such-package-xyz" in done.stderr
