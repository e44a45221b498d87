"""`--deps outside`: the image holds the OS and Python only; the packages live in a uv
environment on shared storage (the project's `.freight/envs/<hash>/`), bound in at run time.

The environment is created once, INSIDE the image (so its interpreter is the image's python and
compiled wheels match the image's libc), by the host's uv binary bound in at /opt/freight-uv:
the image needs neither pip nor uv. Adding a package changes the hash, so a new environment is
made next to the old one; the image is not rebuilt. Creation is guarded by a lock file on the
host and marked ready only at the end, so a half-made environment is never used.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

from freight.errors import FreightError

UV_DIR_INSIDE = "/opt/freight-uv"
READY = ".freight-ready"
ENVS = os.path.join(".freight", "envs")


def env_dir(workdir: str, image_ref: str, requirements: str) -> Path:
    """<workdir>/.freight/envs/<hash of the image and the requirements>."""
    digest = hashlib.sha256(f"{image_ref}\n{requirements}".encode()).hexdigest()[:16]
    return Path(workdir) / ENVS / digest


def ensure_env(engine_name: str, image_ref: str, workdir: str, requirements: str, *,
               hashed: bool) -> Path:
    """The environment's python (made now unless it is ready). `requirements`: the text of a
    requirements file (a uv lock with hashes when `hashed`)."""
    target = env_dir(workdir, image_ref, requirements)
    python = target / "bin" / "python"
    if (target / READY).exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.with_suffix(".lock")):
        if not (target / READY).exists():
            _create(engine_name, image_ref, workdir, target, requirements, hashed)
    return python


# Run in the image with the values as arguments: ENV_DIR REQUIREMENTS UV_DIR [uv pip flags].
CREATE_SCRIPT = (
    'set -eu; env="$1"; req="$2"; uv="$3"; shift 3; rm -rf "$env"; '
    '"$uv/uv" venv --quiet --python python3 "$env"; '
    '"$uv/uv" pip install --quiet --python "$env/bin/python" "$@" -r "$req"; '
    'touch "$env/' + READY + '"'
)


def create_argv(target: Path, requirements_file: Path, hashed: bool) -> list[str]:
    """The command run in the image: one `sh -c` script, every value a positional argument."""
    flags = ["--require-hashes"] if hashed else []
    return ["sh", "-c", CREATE_SCRIPT, "sh", str(target), str(requirements_file), UV_DIR_INSIDE, *flags]


def _create(engine_name: str, image_ref: str, workdir: str, target: Path, requirements: str, hashed: bool) -> None:
    from freight.engines import get_engine
    from freight.engines.base import parse_mounts
    from freight.engines.venv import cache_dir, uv_binary
    from freight.engines.wrap import engine_env

    engine = get_engine(engine_name).require()
    req_file = target.with_suffix(".requirements.txt")
    req_file.write_text(requirements, encoding="utf-8")
    uv_dir = os.path.dirname(os.path.realpath(uv_binary()))
    uv_cache = cache_dir() / "uv-outside"
    uv_cache.mkdir(parents=True, exist_ok=True)
    mounts = parse_mounts([workdir, f"{uv_dir}:{UV_DIR_INSIDE}", str(uv_cache)], workdir)
    engine.prepare(image_ref, mounts)
    env = {"UV_CACHE_DIR": str(uv_cache), "UV_NATIVE_TLS": "1", "UV_LINK_MODE": "copy",
           "UV_PYTHON_DOWNLOADS": "never", "HOME": "/tmp"}
    argv = engine.exec_argv(image_ref, create_argv(target, req_file, hashed),
                            mounts=[m.spec() for m in mounts], env=env, workdir=workdir)
    done = subprocess.run(argv, capture_output=True, text=True, env=engine_env(dict(os.environ)))
    if done.returncode != 0:
        from freight.image.build import last_error_line

        raise FreightError(f"--deps outside: uv could not make the environment in the image: "
                           f"{last_error_line((done.stderr + done.stdout).splitlines())}",
                           fix="check the requirements and that the image has python3", path=target)


@contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
