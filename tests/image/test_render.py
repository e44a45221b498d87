"""Rendered recipes: golden files for every case and format, and each recipe parsed by
spython's own Dockerfile and Singularity/Apptainer parsers (Apptainer is not installable
here: parsing is as far as its definition files can be checked). Regenerate the golden files
with FREIGHT_UPDATE_GOLDEN=1 after a deliberate change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cases import CASES, make_project

from freight.image.plan import make_plan
from freight.image.render import FORMATS, RECIPE_FILES, render, write_context

GOLDEN = Path(__file__).parent / "golden"
pytest.importorskip("spython")
from spython.main.parse.parsers import DockerParser, SingularityParser  # noqa: E402


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    root = tmp_path_factory.mktemp("cases")
    result = {}
    for name in CASES:
        folder, options = make_project(root, name)
        result[name] = make_plan(folder, lock=False, **options)
    return result


def check_golden(path: Path, text: str) -> None:
    if os.environ.get("FREIGHT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: run with FREIGHT_UPDATE_GOLDEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_golden(plans, case, fmt):
    files = render(plans[case], fmt)
    for name, text in files.items():
        check_golden(GOLDEN / case / fmt / name, text)
    if not os.environ.get("FREIGHT_UPDATE_GOLDEN"):
        assert sorted(files) == sorted(p.name for p in (GOLDEN / case / fmt).iterdir())


def parse(plan, fmt: str, parser, folder: Path) -> dict:
    """spython's stages (name -> recipe) for the plan's recipe file in `fmt`."""
    name = RECIPE_FILES[fmt]
    (folder / name).write_text(render(plan, fmt)[name])
    return parser(str(folder / name)).recipe


def multi_stage(plan) -> bool:
    return plan.base.kind not in ("ngc", "conda") and plan.deps == "image"


@pytest.mark.parametrize("case", sorted(CASES))
def test_dockerfile_parses_with_spython(plans, case, tmp_path):
    plan = plans[case]
    stages = parse(plan, "docker", DockerParser, tmp_path)
    assert list(stages) == (["builder", "runtime"] if multi_stage(plan) else ["spython-base"])
    final = list(stages.values())[-1]
    assert final.fromHeader.strip() == plan.base.image  # spython keeps the space before AS
    assert f'io.freight.content-hash="{plan.content_hash}"' in " ".join(
        line for label in final.labels for line in label)
    assert final.cmd == [plan.python_bin]


@pytest.mark.parametrize("case", sorted(CASES))
def test_apptainer_definition_parses_with_spython(plans, case, tmp_path):
    plan = plans[case]
    stages = parse(plan, "apptainer", SingularityParser, tmp_path)
    final = list(stages.values())[-1]
    assert final.fromHeader == plan.base.image
    assert f"io.freight.content-hash {plan.content_hash}" in final.labels
    runscript = f'exec {plan.python_bin} "$@"'  # a 2-line runscript goes to spython's install
    assert final.cmd.endswith(runscript) or any(runscript in line for line in final.install)
    if multi_stage(plan):
        assert list(stages) == ["builder", "runtime"]
        assert final.layer_files == {"builder": ["/opt/venv /opt/venv"]
                                     + (["/opt/python /opt/python"]
                                        if plan.python_source != "base" else [])}
        assert 'PATH="/opt/venv/bin:$PATH"' in final.environ


def test_charliecloud_env_file_carries_the_runtime_environment(plans):
    env = render(plans["cpu"], "charliecloud")["freight.env"]
    lines = [line for line in env.splitlines() if line and not line.startswith("#")]
    assert lines == ["PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "VIRTUAL_ENV=/opt/venv",
                     "PATH=/opt/venv/bin:$PATH"]


def test_ngc_installs_under_the_base_images_own_constraints(plans):
    text = render(plans["ngc"], "docker")["Dockerfile"]
    assert "python3 -m pip list --format=freeze > /opt/freight/base-constraints.txt" in text
    assert "PIP_CONSTRAINT=/opt/freight/base-constraints.txt python3 -m pip install" in text
    assert 'PIP_CONSTRAINT="/opt/freight/base-constraints.txt"' in text  # kept for later installs
    assert "uv venv" not in text and plans["ngc"].locked is None


def test_cuda_base_installs_python_and_keeps_compilers_out_of_the_runtime(plans):
    text = render(plans["cuda-package"], "docker")["Dockerfile"]
    builder, runtime = text.split("AS runtime")
    assert "apt-get install" in builder and "python3" in builder
    assert "libgl1" in runtime and "uv venv" not in runtime
    assert "uv pip install --python /opt/venv/bin/python pip 'hatchling>=1.20'" in builder


def test_write_context_holds_only_what_the_recipe_needs(plans, tmp_path):
    plan = plans["local-bake"]
    left_out = write_context(plan, tmp_path / "ctx", "docker")
    assert left_out == [".env (may hold a secret)", "id_rsa (may hold a secret)"]
    names = sorted(p.relative_to(tmp_path / "ctx").as_posix()
                   for p in (tmp_path / "ctx").rglob("*") if p.is_file())
    assert names == ["Dockerfile", "code/requirements.txt", "code/run.py", "requirements.txt", "uv"]
    assert os.access(tmp_path / "ctx" / "uv", os.X_OK)


def test_write_context_refuses_a_folder_with_files(plans, tmp_path):
    from freight.errors import InputError

    (tmp_path / "x").write_text("")
    with pytest.raises(InputError, match="not empty"):
        write_context(plans["cpu"], tmp_path, "docker")


def test_charliecloud_env_file_is_read_by_the_real_ch_run(plans, tmp_path):
    """ch-run reads every line of an env file as NAME=VALUE and expands $PATH itself."""
    import subprocess

    from ci_images import image_for, require

    image = image_for("charliecloud", require("charliecloud"))
    env_file = tmp_path / "freight.env"
    env_file.write_text(render(plans["cpu"], "charliecloud")["freight.env"])
    done = subprocess.run(
        ["ch-run", "--unset-env=*", "--set-env", f"--set-env={env_file}", image, "--",
         "/bin/sh", "-c", 'echo "$VIRTUAL_ENV|$PATH"'],
        capture_output=True, text=True, env={**os.environ, "USER": os.environ.get("USER", "root")},
        check=False)
    assert done.returncode == 0, done.stderr
    venv, path = done.stdout.strip().split("|")
    assert venv == "/opt/venv" and path.startswith("/opt/venv/bin:") and "/usr/bin" in path
