"""make_plan: inputs from `freight deps`, python version, package projects, content hash."""

from __future__ import annotations

import pytest
from cases import make_project

from freight.errors import ConfigError
from freight.image.plan import make_plan


def write(folder, files):
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_plan_of_a_folder_reads_its_requirements(tmp_path):
    folder, _ = make_project(tmp_path, "cpu")
    plan = make_plan(folder, lock=False)
    assert plan.requirements == ["numpy==1.26.4", "requests==2.32.3"]
    assert (plan.base.image, plan.python, plan.python_source) == ("python:3.11-slim", "3.11", "base")
    assert plan.name == "cpu" and plan.ref == f"freight/cpu:{plan.content_hash[:12]}"
    assert plan.package is None and plan.locked is None and plan.bake is False


def test_plan_of_a_script_and_of_a_notebook(tmp_path):
    script = write(tmp_path, {"s/My Script.py": "import yaml\n"}) / "s" / "My Script.py"
    plan = make_plan(script, lock=False)
    assert plan.requirements == ["PyYAML"] and plan.name == "my-script"
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text('{"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], '
                        '"execution_count": null, "source": ["import torch\\n"]}], '
                        '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    plan = make_plan(notebook, lock=False)
    assert plan.requirements == ["torch"] and plan.base.kind == "cuda"


def test_a_package_project_is_noted_with_its_build_backend(tmp_path):
    folder, _ = make_project(tmp_path, "cuda-package")
    plan = make_plan(folder, lock=False)
    assert plan.package == "." and plan.build_requires == ["hatchling>=1.20"]
    assert (plan.python, plan.python_source) == ("3.11", "requires-python")
    assert plan.system_packages == ["libgl1", "libglib2.0-0"]
    setup_only = write(tmp_path / "legacy", {"setup.py": "from setuptools import setup\nsetup()\n"})
    assert make_plan(setup_only, lock=False).build_requires == ["setuptools>=40.8.0"]


def test_python_version_sources(tmp_path):
    folder = write(tmp_path / "p", {"run.py": "import numpy\n", ".python-version": "3.12.4\n"})
    plan = make_plan(folder, lock=False)
    assert (plan.python, plan.python_source, plan.base.image) == \
        ("3.12", ".python-version", "python:3.12-slim")
    plan = make_plan(folder, lock=False, python="3.13")
    assert (plan.python, plan.python_source) == ("3.13", "--python")
    with pytest.raises(ConfigError, match="not like 3.11"):
        make_plan(folder, lock=False, python="three")


def test_conda_environment_is_planned_for_micromamba(tmp_path):
    folder, _ = make_project(tmp_path, "conda")
    plan = make_plan(folder, lock=True)  # conda solves it: no uv lock, so no network here
    assert plan.conda_file == "environment.yml" and plan.locked is None
    assert plan.base.kind == "conda" and (plan.python, plan.python_source) == ("3.10", "environment.yml")
    assert plan.python_bin == "/opt/conda/bin/python"


def test_ngc_base_is_not_locked_and_keeps_its_packages(tmp_path):
    folder, options = make_project(tmp_path, "ngc")
    plan = make_plan(folder, **options)  # lock=True, still no network: locked at build time
    assert plan.base.kind == "ngc" and plan.locked is None
    assert plan.env["PIP_CONSTRAINT"] == "/opt/freight/base-constraints.txt"


def test_content_hash_is_stable_and_follows_what_goes_in(tmp_path):
    folder = write(tmp_path / "p", {"run.py": "import yaml\n", "requirements.txt": "pyyaml==6.0.1\n"})
    first = make_plan(folder, lock=False).content_hash
    assert make_plan(folder, lock=False).content_hash == first  # stable across runs
    (folder / "run.py").write_text("import yaml\nprint('changed')\n")
    assert make_plan(folder, lock=False).content_hash == first  # code is bound, not baked
    baked = make_plan(folder, lock=False, bake=True).content_hash
    (folder / "run.py").write_text("import yaml\nprint('changed again')\n")
    assert make_plan(folder, lock=False, bake=True).content_hash != baked  # baked code counts
    (folder / "requirements.txt").write_text("pyyaml==6.0.2\n")
    assert make_plan(folder, lock=False).content_hash != first  # a requirement changed
    assert make_plan(folder, lock=False, base="debian:12").content_hash != first


def test_outside_deps_keep_requirements_out_of_the_hash(tmp_path):
    folder = write(tmp_path / "p", {"run.py": "import yaml\n", "requirements.txt": "pyyaml==6.0.1\n"})
    first = make_plan(folder, lock=False, deps="outside")
    (folder / "requirements.txt").write_text("pyyaml==6.0.2\n")
    second = make_plan(folder, lock=False, deps="outside")
    assert first.content_hash == second.content_hash  # adding a package needs no rebuild
    assert second.requirements == ["PyYAML==6.0.2"] and second.python_bin == "python3"
    with pytest.raises(ConfigError, match="deps mode"):
        make_plan(folder, lock=False, deps="sideways")


def test_bake_reports_what_was_left_out(tmp_path):
    folder, options = make_project(tmp_path, "local-bake")
    plan = make_plan(folder, lock=False, **options)
    assert plan.files == ["requirements.txt", "run.py"]
    assert plan.left_out == [".env (may hold a secret)", "id_rsa (may hold a secret)"]


def test_unknown_newer_torch_warns_with_the_refresh_command(tmp_path):
    folder = write(tmp_path / "p", {"run.py": "import torch\n", "requirements.txt": "torch==9.0.0\n"})
    plan = make_plan(folder, lock=False)
    assert plan.base.kind == "cuda"
    assert any("python -m freight.image.bases --refresh-help" in w for w in plan.warnings)
