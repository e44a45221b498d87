"""Reading sweep files: explicit parameter rows, each located by its line for messages.

Formats (chosen by suffix; the rules for names and values are in freight.spec.sweep):
    .toml            an array of tables `[[row]]`; values keep TOML's types
    .csv             a header row of names, then one row per task; cells are text
    .jsonl .ndjson   one JSON object per line; values keep JSON's types; blank lines skipped
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from freight.errors import ConfigError, InputError
from freight.spec.tomlfile import read_toml

Located = Iterator[tuple[str, dict[str, Any]]]  # ("line 3", {"lr": "0.1"})


def read_rows(path: Path) -> Located:
    """The raw rows of a sweep file with where each one is ("line 3", "row 2")."""
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ConfigError(
            f"'{path.suffix or path.name}' is not a sweep file type",
            fix="use .toml ([[row]] tables), .csv (a header row) or .jsonl (one object per line)",
            path=path,
        )
    if not path.is_file():
        raise InputError("sweep file not found", fix="check the path given to --sweep-file", path=path)
    return reader(path)


def _toml_rows(path: Path) -> Located:
    data = read_toml(path)
    for key in data:
        if key != "row":
            hint = " (did you mean 'row'?)" if difflib.get_close_matches(key, ["row"]) else ""
            raise ConfigError(f"unknown key '{key}'{hint}", fix="write one [[row]] table per task", path=path)
    rows = data.get("row", [])
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ConfigError("'row' must be an array of tables", fix="write [[row]], not [row]", path=path)
    for number, row in enumerate(rows, start=1):
        yield f"row {number}", row


def _csv_rows(path: Path) -> Located:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        _check_header(path, header)
        for cells in reader:
            if not cells:
                continue  # a blank line
            where = f"line {reader.line_num}"
            if len(cells) != len(header):
                raise ConfigError(
                    f"{where}: {len(cells)} cells but the header names {len(header)}",
                    fix="give every row one cell per header name (quote cells holding commas)",
                    path=path,
                )
            yield where, dict(zip(header, cells))


def _check_header(path: Path, header: list[str]) -> None:
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ConfigError(f"line 1: the header names {duplicates} twice", fix="name each column once", path=path)


def _jsonl_rows(path: Path) -> Located:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{where}: not valid JSON ({exc.msg})", fix="one JSON object per line", path=path) from None
            if not isinstance(row, dict):
                raise ConfigError(f"{where}: not a JSON object", fix='write {"name": value, ...}', path=path)
            yield where, row


_READERS: dict[str, Callable[[Path], Located]] = {
    ".toml": _toml_rows,
    ".csv": _csv_rows,
    ".jsonl": _jsonl_rows,
    ".ndjson": _jsonl_rows,
}
