"""Which Python the image needs, from what the project says.

In order: `--python`, `.python-version`, `requires-python` in pyproject.toml (3.11 when it
allows it, else the lowest allowed version freight knows), `python=` in environment.yml. None when the
project does not say: the base's Python is used then.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from freight.errors import ConfigError

DEFAULT = "3.11"
_MINOR = re.compile(r"^(3\.\d+)(?:\.\d+)?$")
_CONDA_PYTHON = re.compile(r"^\s*-\s*python\s*[=<>~]=?\s*(3\.\d+)", re.M)


def find(root: Path, explicit: str | None = None,
         conda_file: str | None = None) -> tuple[str | None, str]:
    """(version "3.x" or None, where it came from)."""
    if explicit is not None:
        return _check(explicit), "--python"
    for reader, source in ((_python_version_file, ".python-version"),
                           (_requires_python, "requires-python"),
                           (lambda r: _conda(r, conda_file), "environment.yml")):
        version = reader(root)
        if version:
            return version, source
    return None, "base"


def _check(text: str) -> str:
    match = _MINOR.match(text.strip())
    if re.match(r"^\s*[12]\.\d+", text):
        raise ConfigError(f"Python {text.strip()} is not supported: images get Python 3", fix="e.g. --python 3.11")
    if not match:
        raise ConfigError(f"python version {text!r} is not like 3.11", fix="e.g. --python 3.11")
    return match.group(1)


def _python_version_file(root: Path) -> str | None:
    path = root / ".python-version"
    if not path.is_file():
        return None
    match = _MINOR.match(path.read_text(encoding="utf-8", errors="replace").strip())
    return match.group(1) if match else None


def _requires_python(root: Path) -> str | None:
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))["project"]["requires-python"]
        allowed = SpecifierSet(spec)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, InvalidSpecifier, OSError):
        return None
    from freight.image.bases import data

    fitting = [v for v in data()["python"]["known"] if allowed.contains(f"{v}.0")]
    # DEFAULT when allowed (the best-tested choice), else the lowest allowed.
    return DEFAULT if DEFAULT in fitting else (fitting[0] if fitting else None)


def _conda(root: Path, conda_file: str | None) -> str | None:
    if not conda_file or not conda_file.endswith((".yml", ".yaml")):
        return None
    match = _CONDA_PYTHON.search((root / conda_file).read_text(encoding="utf-8", errors="replace"))
    return match.group(1) if match else None
