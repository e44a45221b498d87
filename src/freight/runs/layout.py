"""Where a run's files live. One folder per run under `.freight/runs/`, one per task inside.

    .freight/store.db                     the SQLite run store (WAL)
    .freight/runs/<run-id>/job.json       the Job, as submitted
    .freight/runs/<run-id>/tasks.jsonl    one line per task: {"index": i, "params": {...}}
    .freight/runs/<run-id>/tasks/<i>/     params.json, state.json, stdout.log, stderr.log,
                                          result.json (what the program reported)
    .freight/runs/<run-id>/scripts/       what a target rendered (job scripts)

The folder is the truth: a run can be understood from it alone, even without the store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FREIGHT_DIR = ".freight"


def freight_home(project: Path | None = None) -> Path:
    """The `.freight` folder of a project: $FREIGHT_HOME, else `.freight` in the project (cwd)."""
    override = os.environ.get("FREIGHT_HOME")
    if override:
        return Path(override).resolve()
    return (project or Path.cwd()).resolve() / FREIGHT_DIR


@dataclass(frozen=True)
class RunPaths:
    root: Path  # the run folder

    @property
    def job(self) -> Path:
        return self.root / "job.json"

    @property
    def tasks(self) -> Path:
        return self.root / "tasks.jsonl"

    @property
    def scripts(self) -> Path:
        return self.root / "scripts"

    def task_dir(self, index: int) -> Path:
        return self.root / "tasks" / str(index)

    def state(self, index: int) -> Path:
        # One Path built from a string, not three joins: status reads 10,000 of these at once.
        return Path(f"{self.root}/tasks/{index}/state.json")

    def params(self, index: int) -> Path:
        return self.task_dir(index) / "params.json"

    def stdout(self, index: int) -> Path:
        return self.task_dir(index) / "stdout.log"

    def stderr(self, index: int) -> Path:
        return self.task_dir(index) / "stderr.log"

    def result(self, index: int) -> Path:
        return self.task_dir(index) / "result.json"
