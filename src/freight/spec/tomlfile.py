"""Read a TOML file, or explain in one line why it cannot be read.

tomllib is in the standard library from Python 3.11; on 3.10 the same parser ships as `tomli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from freight.errors import ConfigError, InputError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path=path) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", fix="correct the line it names", path=path) from exc
