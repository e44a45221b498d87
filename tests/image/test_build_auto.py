"""`freight run --image auto`, end to end: plan, build (or reuse) and run in the image, on the
local target with each engine and once on the CI Slurm; a package project is editable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from building import (  # noqa: F401
    BASE,
    build_env,
    built,
    calls,
    need_engine,
    project_dir,
    write_project,
)
from clusters import need_slurm

from freight.image.auto import source_roots

pytestmark = pytest.mark.network

PACKAGE = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
                      '[project]\nname = "toypkg"\nversion = "0.1.0"\ndependencies = ["six"]\n',
    "src/toypkg/__init__.py": "GREETING = 'first'\n",
    "train.py": "import six, toypkg\nprint('greeting', toypkg.GREETING, 'six', six.__version__)\n",
}


def freight(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "freight", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def only_output(cwd: Path, record: dict) -> str:
    run_dir = Path(record["run_dir"]) if "run_dir" in record else cwd / ".freight" / "runs" / record["id"]
    return (run_dir / "tasks" / "0" / "stdout.log").read_text()


def run_auto(cwd: Path, *flags: str) -> tuple[dict, str]:
    done = freight(cwd, "run", "--json", "--image", "auto", "--base", BASE, *flags, "main.py"
                   if (cwd / "main.py").exists() else "train.py")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    return record, only_output(cwd, record)


@pytest.mark.parametrize("engine", ["podman", "charliecloud", "docker"])
def test_run_image_auto_reuses_the_built_image(built, build_env, project_dir, engine):
    _, image = built(engine)  # the same plan as `--bake` here: freight run finds it built
    _, log = build_env
    before = len(calls(log))
    record, output = run_auto(project_dir, "--engine", engine, "--bake")
    assert record["tasks"][0]["state"] == "succeeded"
    assert output.startswith("six ") and "baked True" in output
    assert not [c for c in calls(log)[before:] if " build " in f" {c} "]


def test_package_project_is_editable_without_a_rebuild(build_env, tmp_path):
    need_engine("podman")
    root = write_project(tmp_path / "pkg", PACKAGE)
    _, log = build_env
    _, first = run_auto(root, "--engine", "podman")
    assert first.split() == ["greeting", "first", "six", first.split()[-1]]
    (root / "src" / "toypkg" / "__init__.py").write_text("GREETING = 'edited'\n")
    before = len(calls(log))
    _, second = run_auto(root, "--engine", "podman")
    assert second.split()[:2] == ["greeting", "edited"]
    assert not [c for c in calls(log)[before:] if " build " in f" {c} "]


def test_run_image_auto_on_slurm(built, project_dir):
    need_slurm()
    _, image = built("charliecloud")
    record, output = run_auto(project_dir, "--engine", "charliecloud", "--bake", "--target", "slurm")
    assert record["tasks"][0]["state"] == "succeeded"
    assert "baked True" in output


def test_source_roots(tmp_path):
    assert source_roots(tmp_path) == [str(tmp_path.resolve())]
    (tmp_path / "src").mkdir()
    assert source_roots(tmp_path) == [str((tmp_path / "src").resolve())]
    (tmp_path / "pyproject.toml").write_text('[tool.setuptools.packages.find]\nwhere = ["lib"]\n')
    assert source_roots(tmp_path) == [str((tmp_path / "lib").resolve())]


def test_an_engine_that_cannot_build_is_refused(tmp_path):
    (tmp_path / "main.py").write_text("print(1)\n")
    done = freight(tmp_path, "run", "--image", "auto", "--engine", "enroot", "main.py")
    assert done.returncode == 2 and "cannot build an image for --engine enroot" in done.stderr
