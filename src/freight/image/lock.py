"""Locking requirements with `uv pip compile --generate-hashes`: exact versions and hashes,
resolved for the image's Python on Linux, so two builds install the same bytes.

Resolving needs the package index (PyPI or the project's `--index-url`). A requirement that
cannot be resolved is a FreightError quoting uv's own message on one line.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess

from freight.errors import FreightError, MissingToolError

TIMEOUT = 300  # seconds; a big torch resolve from a cold cache takes ~30 s
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)
_DECORATION = re.compile(r"[×╰─▶│├└┬]+")


def uv_bin() -> str:
    """The uv executable: the `uv` package's own, else one on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise MissingToolError("uv is not installed", fix="pip install uv, or use --no-lock")


def compile_argv(python: str) -> list[str]:
    """The `uv pip compile` command for requirements read from stdin."""
    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(platform.machine().lower(),
                                                          platform.machine().lower())
    return [uv_bin(), "pip", "compile", "-", "--generate-hashes", "--no-header",
            "--quiet", "--python-version", python,
            "--python-platform", f"{machine}-unknown-linux-gnu"]


def compile_requirements(requirements: list[str], *, python: str,
                         options: list[str] | None = None) -> str:
    """The locked requirements text (with hashes) for `requirements` on Linux + `python`."""
    text = "".join(f"{line}\n" for line in (options or []) + requirements)
    try:
        done = subprocess.run(compile_argv(python), input=text, capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FreightError(f"locking the requirements took over {TIMEOUT} s",
                           fix="check the package index is reachable, or use --no-lock") from exc
    if done.returncode != 0:
        raise FreightError(f"cannot lock the requirements: {resolver_message(done.stderr)}",
                           fix="correct the requirement, or use --no-lock")
    return done.stdout


def resolver_message(stderr: str) -> str:
    """uv's message on one line, without its box-drawing decoration."""
    lines = [_DECORATION.sub("", line).strip() for line in stderr.splitlines()]
    return " ".join(line for line in lines if line) or "uv failed without a message"


def pinned_versions(locked: str) -> dict[str, str]:
    """Canonical name -> version for every `name==version` line of a lock."""
    from packaging.utils import canonicalize_name

    return {canonicalize_name(m.group(1)): m.group(2) for m in _PIN.finditer(locked)}
