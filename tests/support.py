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


def ngc_calls(tmp_path: Path, script: str) -> list[list[str]]:
    """The `ngc` commands a Base Command script runs, in order: bash runs it with a stand-in
    `ngc` first on PATH that writes its arguments down (one JSON list a line)."""
    bin_dir, log = tmp_path / "ngc-bin", tmp_path / "ngc-calls.jsonl"
    bin_dir.mkdir(exist_ok=True)
    log.unlink(missing_ok=True)
    ngc = bin_dir / "ngc"
    ngc.write_text(f"#!{sys.executable}\nimport json, sys\n"
                   f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    ngc.chmod(0o755)
    path = tmp_path / "submit.sh"
    path.write_text(script)
    done = subprocess.run(["bash", str(path)], env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [["ngc", *json.loads(line)] for line in log.read_text().splitlines()]


def ngc_job_runs(tmp_path: Path, script: str) -> list[dict[str, str]]:
    """The flags of each `ngc base-command job run` the script runs, in order."""
    runs = [argv for argv in ngc_calls(tmp_path, script) if argv[1:4] == ["base-command", "job", "run"]]
    return [dict(zip(argv[4::2], argv[5::2])) for argv in runs]
