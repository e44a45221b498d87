"""Helpers for the tests of the targets whose schedulers cannot be installed here (PBS, LSF,
Kubernetes): runs made in a temporary project, and running a rendered script with the
scheduler's index variable set, as the scheduler would, through freight's real task wrapper."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from freight.runs.store import RunStore
from freight.spec.job import Job, Task

# The program of every task: writes its index and its argument to <task dir>/seen.
SHOW = """import os, pathlib, sys
pathlib.Path(os.environ["FREIGHT_TASK_DIR"], "seen").write_text(os.environ["FREIGHT_TASK_INDEX"] + " " + sys.argv[1])
"""


def make_run(root: Path, target: str, rows: int = 3, run_id: str = "r1", **fields):
    root.mkdir(parents=True, exist_ok=True)
    (root / "show.py").write_text(SHOW)
    job = Job(name="train", command=["python", "show.py", "{x}"], workdir=str(root),
              tasks=[Task(index=i, params={"x": f"v{i}"}) for i in range(rows)], python=sys.executable, **fields)
    return RunStore(root / ".freight").create_run(job, target, run_id=run_id)


def stable(text: str, run, root: Path) -> str:
    """The text with this machine's paths replaced, for golden files."""
    text = text.replace(str(run.paths.root), "<RUN_DIR>").replace(str(root), "<PROJECT>")
    return text.replace(sys.executable, "<PYTHON>")


def write_files(run, files: dict[str, str]) -> None:
    run.paths.scripts.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (run.paths.scripts / name).write_text(text)


def run_script(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a rendered job script as its scheduler would: its variables set, and a leaked
    FREIGHT_TASK_INDEX from the submitting shell that the script must ignore."""
    full = {**os.environ, "FREIGHT_TASK_INDEX": "99", **env}
    return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=60)


def seen(run, index: int) -> str | None:
    path = run.paths.task_dir(index) / "seen"
    return path.read_text() if path.exists() else None


def fake_tool(folder: Path, name: str, answer: str) -> Path:
    """A stand-in for a scheduler command PBS/LSF cannot provide here: logs its argv, prints
    the documented answer."""
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / name
    tool.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/{name}.calls"\ncat > /dev/null 2>&1 || true\nprintf \'%s\\n\' "{answer}"\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool
