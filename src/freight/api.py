"""The Python API: the same verbs as the command line.

    import freight
    run = freight.run("train.py", args=["--lr", "{lr}"], sweep={"lr": [1e-3, 1e-2]}, cpus=2)
    run.wait()
    print(run.status(), run.results())
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from freight.runs import launch, watch
from freight.runs.layout import freight_home
from freight.runs.results import results_table
from freight.runs.store import RunRecord, RunStore, TaskStatus
from freight.sched import get_target


class Run:
    """A handle on one run: follow, cancel, retry it and read its results."""

    def __init__(self, store: RunStore, record: RunRecord):
        self._store = store
        self.record = record
        self.id = record.id

    @classmethod
    def load(cls, ref: str | None = None, home: Path | None = None) -> Run:
        """An earlier run by id, unique prefix, or the latest (None)."""
        store = RunStore(home)
        return cls(store, store.get_run(ref))

    def tasks(self) -> list[TaskStatus]:
        return watch.current_status(self._store, get_target(self.record.target), self.record)

    def status(self) -> dict[str, int]:
        """How many tasks are in each state, e.g. {"succeeded": 5, "failed": 1}."""
        return dict(Counter(s.state.value for s in self.tasks()))

    def wait(self) -> Run:
        watch.wait(self._store, get_target(self.record.target), self.record)
        return self

    def cancel(self) -> None:
        launch.cancel(self._store, self.record)

    def retry(self) -> list[int]:
        """Run again what failed, was cancelled, lost or never started; returns those indices."""
        return launch.retry(self._store, self.record)

    def results(self) -> list[dict[str, Any]]:
        """One row per task: index, state, params, and what the task reported."""
        return results_table(self.record, self.tasks()).rows

    def __repr__(self) -> str:
        return f"Run({self.id!r}, {self.status()})"


def run(
    source: str | None = None,
    args: list[str] | None = None,
    *,
    sweep: dict[str, Any] | None = None,
    wait: bool = False,
    cwd: str | Path | None = None,
    smoke_first: bool = False,
    **settings: Any,
) -> Run:
    """Submit a script, notebook, folder or program like `freight run` does; returns a Run.

    `sweep` maps names to lists of values or range strings ("log:1e-4:1e-1:5"); other keywords
    are the command line's (cpus, mem, gpus, time, env, name, target, max_parallel, zip_,
    sweep_file, random, seed, pack). `smoke_first=True` runs the first row alone (time limit
    at most 10 minutes) and submits the rest only if it succeeded; if it did not,
    freight.runs.launch.SmokeTestFailed (a FreightError) says why and has the `run_id`.
    """
    workdir = Path(cwd) if cwd is not None else Path.cwd()
    home = freight_home(workdir)
    request = launch.RunRequest(source, list(args or []), settings, cwd=workdir)
    job, config, _notes = launch.build_job(request, home)
    if sweep is not None:
        from freight.spec.sweep import expand_params

        job = job.model_copy(update={"tasks": expand_params(sweep, mode="zip" if settings.get("zip_") else "grid")})
    job, _reason = launch.prepare(job)
    store = RunStore(home)
    handle = Run(store, launch.submit(store, job, config.target, smoke_first=smoke_first))
    return handle.wait() if wait else handle
