"""What the real image-build tests share (tests/image/test_build*.py, test_export.py,
test_outside.py): one freight cache per test session, the CI base image in every engine's store,
engine calls counted, and each image built once per session.

Builds are slow on a 2-core machine, so a project is built at most once per engine per session
(`built`), and every test that needs an image asks for that one.

Engine calls are counted by putting small scripts named podman, docker, buildah, ch-image and
ch-convert first on PATH: each appends its command line to a file and execs the real program.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ci_images import images as ci_images
from clusters import require

BASE = "localhost/freight-ci/bookworm-py:latest"  # what ci/containers.sh imports everywhere
PROGRAMS = {"podman": "podman", "docker": "docker", "charliecloud": "ch-image", "buildah": "buildah"}
COUNTED = ("podman", "docker", "buildah", "ch-image", "ch-convert")
SHIM = '#!/bin/sh\nprintf \'%s\\n\' "{name} $*" >> "$FREIGHT_TEST_ENGINE_CALLS"\nPATH={dir}:$PATH exec {real} "$@"\n'
MAIN = "import os, six\nprint('six', six.__version__, 'baked', os.path.exists('/opt/project/main.py'))\n"
SECRETS = {".env": "API_TOKEN=do-not-ship\n", "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n"}


def need_engine(engine: str) -> None:
    """Skip (fail in CI) unless the engine and the CI base image are here."""
    found = ci_images()
    problem = None
    if not found.get("FREIGHT_CI_TAR"):
        problem = "no CI base image for builds (images.env has no FREIGHT_CI_TAR)"
    elif shutil.which(PROGRAMS[engine]) is None:
        problem = f"{PROGRAMS[engine]} is not installed"
    elif engine == "docker" and subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        problem = "dockerd is not running"
    require(problem, "run `sudo bash ci/containers.sh up`")


def install_counters(folder: Path) -> Path:
    """Counting scripts for the engine programs in `folder`; the file they append to."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in COUNTED:
        real = shutil.which(name)
        if real:
            script = folder / name
            script.write_text(SHIM.format(name=name, dir=os.path.dirname(real), real=real))
            script.chmod(0o755)
    return folder / "calls.log"


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def import_base_for_charliecloud(env: dict[str, str]) -> None:
    """ch-image builds FROM its own storage: import the CI tarball under the same name."""
    tar = ci_images()["FREIGHT_CI_TAR"]
    subprocess.run(["ch-image", "import", tar, BASE], env=env, check=True, capture_output=True)


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture(scope="session")
def build_env(tmp_path_factory):
    """One freight cache for the session, engine calls counted: (cache, calls log)."""
    cache = tmp_path_factory.mktemp("freight-cache")
    log = install_counters(tmp_path_factory.mktemp("counters"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FREIGHT_CACHE_DIR", str(cache))
        patch.setenv("FREIGHT_TEST_ENGINE_CALLS", str(log))
        patch.setenv("PATH", f"{log.parent}{os.pathsep}{os.environ['PATH']}")
        patch.delenv("CH_IMAGE_STORAGE", raising=False)
        yield cache, log


@pytest.fixture(scope="session")
def project_dir(tmp_path_factory) -> Path:
    """A script project with one dependency and two secrets that must never enter an image."""
    return write_project(tmp_path_factory.mktemp("proj"), {"main.py": MAIN, **SECRETS})


@pytest.fixture(scope="session")
def built(build_env, project_dir):
    """engine -> (plan, Built) of project_dir baked (--bake), built once per session."""
    from freight.image.build import build_image
    from freight.image.builders import get_builder
    from freight.image.plan import make_plan

    made: dict = {}

    def get(engine: str):
        need_engine(engine)
        if engine not in made:
            if engine == "charliecloud":
                import_base_for_charliecloud(get_builder("charliecloud").environ())
            plan = make_plan(project_dir, base=BASE, bake=True)
            made[engine] = (plan, build_image(plan, engine, force=True))  # really built, this session
        return made[engine]

    return get


def run_in(built_image, argv: list[str]) -> subprocess.CompletedProcess:
    """Run a command in a built image with the engine that runs it."""
    if built_image.engine == "charliecloud":
        full = ["ch-run", "--unset-env=*", "--set-env", built_image.ref, "--", *argv]
    else:
        full = [built_image.engine, "run", "--rm", built_image.ref, *argv]
    env = {**os.environ, "USER": os.environ.get("USER") or "root"}
    return subprocess.run(full, capture_output=True, text=True, env=env, timeout=120)
