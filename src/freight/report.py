"""`freight.report(loss=0.1, acc=0.9)`: record what a task measured, from inside the task.

Imported by user programs and by the task wrapper, so it stays stdlib-only and light.
Inside a task (the wrapper sets $FREIGHT_TASK_DIR) the metrics are merged into
`<task_dir>/result.json` atomically; outside one they are kept in memory and a one-line note
goes to stderr, so a script runs the same with or without freight.

Programs that are not Python write `key=value` lines (or one JSON object) into the file
named by $FREIGHT_RESULT; the wrapper merges it into result.json when the program ends.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from freight.fsutil import read_json, write_json_atomic

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~8 ms in every task
if TYPE_CHECKING:
    from typing import Any

RESULT_JSON = "result.json"
RESULT_ENV = "result.env"  # what $FREIGHT_RESULT points to

_outside_task: dict[str, Any] = {}  # metrics reported when no task folder exists
_noted_outside = False


def report(metrics: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
    """Record metrics for this task; returns everything reported so far.

    Values must be numbers, strings, bools, None or lists of them; numpy scalars and arrays
    are converted. `report({"val/loss": 0.2})` takes names that are not Python identifiers.
    """
    values = {str(name): plain_value(name, value) for name, value in {**(metrics or {}), **more}.items()}
    task_dir = os.environ.get("FREIGHT_TASK_DIR")
    if not task_dir:
        return _keep_in_memory(values)
    path = Path(task_dir) / RESULT_JSON
    merged = {**_json_object(path), **values}
    write_json_atomic(path, merged)
    return merged


def plain_value(name: str, value: Any) -> Any:
    """The value as plain JSON data, or TypeError naming the metric."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain_value(name, item) for item in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays, torch tensors: no import needed
        return plain_value(name, value.tolist())
    if hasattr(value, "item"):
        return plain_value(name, value.item())
    raise TypeError(
        f"freight.report: {name}={value!r} is a {type(value).__name__}; "
        "report numbers, strings, bools or lists of them"
    )


def parse_result_env(text: str) -> dict[str, Any]:
    """A $FREIGHT_RESULT file: one JSON object, or `key=value` lines (values read as JSON
    when they parse, e.g. 0.5, true, [1,2], else kept as text). `#` lines are comments."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
            return data if isinstance(data, dict) else {}
        except ValueError:
            pass  # not one JSON object after all: read it as lines
    values: dict[str, Any] = {}
    for line in stripped.splitlines():
        key, sep, raw = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = _parse_scalar(raw.strip())
    return values


def collect_results(task_dir: Path) -> dict[str, Any]:
    """What a task reported: result.json with the $FREIGHT_RESULT file's values on top."""
    results = _json_object(task_dir / RESULT_JSON)
    env_file = task_dir / RESULT_ENV
    if env_file.is_file():
        results.update(parse_result_env(env_file.read_text(encoding="utf-8", errors="replace")))
    return results


def merge_result_env(task_dir: Path) -> dict[str, Any]:
    """Fold the $FREIGHT_RESULT file into result.json (the wrapper calls this at the end)."""
    if not (task_dir / RESULT_ENV).is_file():
        return _json_object(task_dir / RESULT_JSON)
    results = collect_results(task_dir)
    write_json_atomic(task_dir / RESULT_JSON, results)
    return results


def _parse_scalar(raw: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _json_object(path: Path) -> dict[str, Any]:
    data = read_json(path, {})
    return data if isinstance(data, dict) else {}


def _keep_in_memory(values: dict[str, Any]) -> dict[str, Any]:
    global _noted_outside
    if not _noted_outside:
        _noted_outside = True
        print("freight.report: not inside a freight task; results are not saved", file=sys.stderr)
    _outside_task.update(values)
    return dict(_outside_task)
