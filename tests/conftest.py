import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


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


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    monkeypatch.delenv("FREIGHT_HOME", raising=False)
    return Project(tmp_path)
