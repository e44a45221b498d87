"""The container images `bash ci/containers.sh up` makes, for tests that run real engines.

`images()` reads /var/cache/freight-ci/images.env (or $FREIGHT_CI_CACHE/images.env). Where the
images or an engine are missing, tests skip with the script that makes them; in CI
($CI=true) they fail instead, like the scheduler tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from clusters import require as skip_or_fail

SCRIPT = "sudo bash ci/containers.sh up"
PROGRAMS = {"charliecloud": "ch-run", "podman": "podman"}
# A program that prints, as JSON: its environment, working folder and arguments.
PRINT_ENV = ["python3", "-c", "import json, os, sys; print(json.dumps([dict(os.environ), os.getcwd(), sys.argv[1:]]))"]


def images_env() -> Path:
    return Path(os.environ.get("FREIGHT_CI_CACHE", "/var/cache/freight-ci")) / "images.env"


def images() -> dict[str, str]:
    """FREIGHT_CI_* -> value; {} when the images were never made."""
    try:
        lines = images_env().read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


def require(engine: str) -> dict[str, str]:
    """The images, or skip (fail in CI) naming what is missing and the script that makes it."""
    found = images()
    problem = None
    if not found:
        problem = f"no container test images ({images_env()} is missing)"
    elif shutil.which(PROGRAMS[engine]) is None:
        problem = f"{PROGRAMS[engine]} is not installed"
    skip_or_fail(problem, f"make them with `{SCRIPT}`")
    return found


def image_for(engine: str, found: dict[str, str]) -> str:
    """The test image as that engine takes it."""
    return found["FREIGHT_CI_CH_SQFS"] if engine == "charliecloud" else found["FREIGHT_CI_PODMAN_IMAGE"]
