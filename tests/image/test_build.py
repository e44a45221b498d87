"""freight.image.build with real engines (Podman, Docker, Charliecloud's ch-image) on the CI
base image: build, run the program inside, secrets kept out, the second build a no-op."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from building import BASE, build_env, built, calls, need_engine, project_dir, run_in  # noqa: F401

from freight.errors import ConfigError, FreightError, MissingToolError
from freight.image.build import build_recipe, last_error_line
from freight.image.builders import get_builder, pick_builder

ENGINES = ["podman", "docker", "charliecloud"]
pytestmark = pytest.mark.network  # the recipes install from the package index


@pytest.mark.parametrize("engine", ENGINES)
def test_built_image_runs_the_program_with_its_dependency(built, engine):
    plan, image = built(engine)
    assert image.tag == f"localhost/{plan.ref}" and plan.tag in image.tag
    done = run_in(image, ["python3", "/opt/project/main.py"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["six", done.stdout.split()[1]] and "baked True" in done.stdout


@pytest.mark.parametrize("engine", ENGINES)
def test_secrets_never_enter_the_image(built, engine):
    _, image = built(engine)
    # not under /tmp, /proc, /sys, /dev: ch-run shares the host's (with this test's project in it)
    find = ("find / \\( -path /tmp -o -path /proc -o -path /sys -o -path /dev \\) -prune -o "
            "\\( -name .env -o -name id_rsa \\) -print; ls /opt/project")
    done = run_in(image, ["sh", "-c", find])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert "main.py" in lines  # the code is there (--bake) ...
    assert not [line for line in lines if line.endswith(("/.env", "/id_rsa"))]  # ... its secrets are not


@pytest.mark.parametrize("engine", ENGINES)
def test_second_build_of_an_unchanged_project_runs_no_build(built, build_env, project_dir, engine):
    from freight.image.build import build_image
    from freight.image.plan import make_plan

    plan, first = built(engine)
    _, log = build_env
    before = calls(log)
    again = build_image(make_plan(project_dir, base=BASE, bake=True), engine)
    new_calls = calls(log)[len(before):]
    assert again.built is False and again.log is None
    assert (again.tag, again.ref) == (first.tag, first.ref)
    assert not [c for c in new_calls if " build " in f" {c} " or " bud " in c or c.startswith("ch-convert")]
    # only questions: is the daemon up (docker info), is the image there (ch: a stat, no call)
    questions = [c.split()[1:3] for c in new_calls if c.split()[1] != "info"]
    assert all(q in (["image", "exists"], ["image", "inspect"]) for q in questions), new_calls


def test_the_build_log_is_kept(built):
    _, image = built("podman")
    assert image.built and image.log.is_file()
    assert "podman build" in image.log.read_text().splitlines()[0]


def test_a_failing_step_is_one_line_with_the_engines_error_and_the_log(tmp_path, build_env):
    need_engine("podman")
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE}\nRUN echo about to fail && exit 7\n")
    with pytest.raises(FreightError) as caught:
        build_recipe(get_builder("podman"), "localhost/freight/fails:1", tmp_path / "Dockerfile", tmp_path)
    message = caught.value.one_line()
    assert "\n" not in message and "podman build failed" in message and "exit status 7" in message
    assert caught.value.path and Path(caught.value.path).is_file()
    assert "about to fail" in Path(caught.value.path).read_text()


def test_a_base_that_does_not_exist_is_named(tmp_path, build_env):
    need_engine("docker")  # docker fails at once; podman retries the pull for a few seconds
    (tmp_path / "Dockerfile").write_text("FROM localhost/freight-test/no-such-base:1\nRUN true\n")
    with pytest.raises(FreightError) as caught:
        build_recipe(get_builder("docker"), "localhost/freight/nobase:1", tmp_path / "Dockerfile", tmp_path,
                     base="localhost/freight-test/no-such-base:1")
    assert caught.value.one_line().count("\n") == 0
    assert "base image localhost/freight-test/no-such-base:1 does not exist" in caught.value.problem


def test_the_cli_exits_2_with_one_line_for_a_missing_base(tmp_path, build_env):
    need_engine("docker")
    (tmp_path / "main.py").write_text("print('hi')\n")
    done = subprocess.run([sys.executable, "-m", "freight", "image", "build", str(tmp_path), "--engine", "docker",
                           "--base", "localhost/freight-test/no-such-base:2"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "does not exist or cannot be pulled" in done.stderr
    assert ".docker.log" in done.stderr


def test_a_missing_engine_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing at all on PATH
    with pytest.raises(MissingToolError) as caught:
        pick_builder()
    assert "apt install podman" in caught.value.fix
    with pytest.raises(MissingToolError) as caught:
        pick_builder("charliecloud")
    assert "charliecloud-builders" in caught.value.fix
    with pytest.raises(ConfigError):
        get_builder("enroot")


def test_builders_are_tried_in_the_documented_order(monkeypatch, tmp_path):
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("podman is not installed")
    (tmp_path / "podman").symlink_to(podman)
    monkeypatch.setenv("PATH", str(tmp_path))  # podman only: docker, the first choice, is missing
    assert pick_builder().name == "podman"


def test_build_command_lines():
    recipe, context = Path("/ctx/Dockerfile"), Path("/ctx")
    assert get_builder("podman").build_argv("t:1", recipe, context) == [
        "podman", "build", "--force-rm", "--layers", "-t", "t:1", "-f", "/ctx/Dockerfile", "/ctx"]
    assert get_builder("docker").build_argv("t:1", recipe, context)[:4] == ["docker", "build", "--force-rm", "-t"]
    assert get_builder("buildah").build_argv("t:1", recipe, context)[:2] == ["buildah", "bud"]
    assert get_builder("charliecloud").build_argv("t:1", recipe, context) == [
        "ch-image", "build", "-t", "t:1", "-f", "/ctx/Dockerfile", "/ctx"]
    apptainer = get_builder("apptainer")
    argv = apptainer.build_argv("localhost/freight/p:abc", Path("/ctx/freight.def"), context)
    assert argv[:4] == ["apptainer", "build", "--fakeroot", "--force"] and argv[4].endswith("localhost%freight%p+abc.sif")
    assert argv[5] == "/ctx/freight.def" and apptainer.recipe_format == "apptainer"


def test_last_error_line_prefers_the_error():
    assert last_error_line(["STEP 2/2: RUN x", "Error: building at STEP \"RUN x\": exit status 1", ""]) \
        == 'Error: building at STEP "RUN x": exit status 1'
    assert last_error_line(["Get \"http://localhost/v2/\": connection refused"]) == "Get \"http://localhost/v2/\": connection refused"
    assert last_error_line([]) == "no output"


def test_build_cli_prints_the_ref_and_says_up_to_date(built, project_dir):
    _, image = built("podman")
    done = subprocess.run([sys.executable, "-m", "freight", "image", "build", str(project_dir), "--engine", "podman",
                           "--base", BASE, "--bake"], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == image.ref and "nothing to build" in done.stderr
