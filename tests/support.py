"""Helpers the target tests share (tests/ is on sys.path through its conftest.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path


def tasks_by_state(record: dict) -> dict[str, list[int]]:
    """A `--json` run record's task indices grouped by state."""
    out: dict[str, list[int]] = {}
    for task in record["tasks"]:
        out.setdefault(task["state"], []).append(task["index"])
    return out


def wait_for(condition, seconds: float = 90, interval: float = 0.1) -> None:
    """Poll until condition() holds; fail after `seconds` (a hang guard, not a timing check)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(interval)


def state_of(run_dir: str | Path, index: int) -> dict:
    """A task's state.json, or {} while it does not exist (or is being replaced)."""
    try:
        return json.loads((Path(run_dir) / "tasks" / str(index) / "state.json").read_text())
    except (OSError, ValueError):
        return {}
