"""Helpers the target tests share (tests/ is on sys.path through its conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


class Project:
    """A throwaway project folder and a `freight` command run in it, as a user would."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def freight(self, *args: str, env: dict | None = None, check: bool = False, timeout: float = 120):
        full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
        done = subprocess.run([sys.executable, "-m", "freight", *args], cwd=self.root,
                              capture_output=True, text=True, env=full_env, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"freight {args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def record(self, *args: str, env: dict | None = None) -> dict:
        """`freight … --json` parsed."""
        done = self.freight(*args, "--json", env=env) if args[0] != "run" else self.freight(
            "run", "--json", *args[1:], env=env)
        assert done.stdout.strip(), done.stderr
        return json.loads(done.stdout)
