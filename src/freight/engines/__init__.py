"""Where a task's program runs: a Python environment (engines/venv.py) or a container engine,
one module each (apptainer/singularity, charliecloud, podman, docker, enroot, pyxis).

    get_engine("podman")            -> the Podman engine (whether installed or not)
    pick_engine(None, image=REF)    -> the first installed engine that fits the image
    engine.exec_argv(image, argv, mounts=[...], env={...}, workdir=DIR, gpus=N) -> argv

Imports stay light (stdlib only, engine modules on first use): the task wrapper uses this on
compute nodes. The venv helpers load pydantic and are imported on first use as well.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~8 ms in every task
if TYPE_CHECKING:
    from typing import Any

    from freight.engines.base import Engine

# name -> "module:Class", in the order pick_engine tries them: the HPC engines first.
ENGINES = {
    "apptainer": "freight.engines.apptainer:Apptainer",
    "singularity": "freight.engines.apptainer:Singularity",
    "charliecloud": "freight.engines.charliecloud:Charliecloud",
    "enroot": "freight.engines.enroot:Enroot",
    "podman": "freight.engines.podman:Podman",
    "docker": "freight.engines.docker:Docker",
    "pyxis": "freight.engines.pyxis:Pyxis",
}
# Engines an image file's kind points to; pyxis is only ever used when asked for by name.
BY_SUFFIX = {
    ".sif": ("apptainer", "singularity"),
    ".simg": ("apptainer", "singularity"),
    ".sqfs": ("charliecloud",),
    ".sqsh": ("enroot",),
}
# Apptainer's URIs; any other reference (python:3.11, nvcr.io/nvidia/pytorch:24.01-py3,
# localhost/img) is an OCI image for Podman or Docker, or the name of one in ch-image's storage.
APPTAINER_URIS = ("docker://", "docker-archive:", "oras://", "library://", "shub://", "oci://", "oci-archive:")
OCI_REF = ("podman", "docker", "charliecloud")
AUTO = tuple(name for name in ENGINES if name != "pyxis")

_VENV = {"PreparedEnv", "cache_dir", "prepare_environment", "shim_pythonpath"}

__all__ = ["ENGINES", "get_engine", "pick_engine", *sorted(_VENV)]


def get_engine(name: str) -> Engine:
    """The engine called `name`; ConfigError (with a did-you-mean) for an unknown name."""
    from freight.plugins import load_plugin

    return load_plugin(ENGINES, name, "container engine")


def pick_engine(preferred: str | None = None, *, image: str | None = None) -> Engine:
    """`preferred` if it is installed here; with None, the first installed engine that can run
    `image` (a .sif wants apptainer, a Charliecloud directory or .sqfs ch-run, …). Raises
    MissingToolError naming what to install."""
    if preferred:
        return get_engine(preferred).require()
    candidates = candidates_for(image)
    for name in candidates:
        engine = get_engine(name)
        if engine.available():
            return engine
    from freight.errors import MissingToolError

    programs = ", ".join(get_engine(name).program for name in candidates)
    raise MissingToolError(f"no container engine for image {image!r} here (looked for {programs})",
                           fix="install one of them, or name the engine to use with --engine")


def candidates_for(image: str | None) -> tuple[str, ...]:
    """Engine names that can run `image`, in the order to try them."""
    import os

    if not image:
        return AUTO
    for suffix, names in BY_SUFFIX.items():
        if image.endswith(suffix):
            return names
    if image.startswith(APPTAINER_URIS):
        return ("apptainer", "singularity")
    if os.path.isdir(image):  # an unpacked image folder: a Charliecloud or Apptainer sandbox
        return ("charliecloud", "apptainer", "singularity")
    return OCI_REF


def __getattr__(name: str) -> Any:
    if name in _VENV:
        from freight.engines import venv

        return getattr(venv, name)
    raise AttributeError(f"module 'freight.engines' has no attribute {name!r}")
