"""Printing a run's state: the status table, the JSON record, and the wait that ends `freight run`."""

from __future__ import annotations

import json
import time
from collections import Counter

from rich.table import Table

from freight.cli.app import err, out, print_json
from freight.runs import watch
from freight.runs.results import results_table
from freight.sched import get_target
from freight.spec.state import TaskState

STATE_STYLE = {
    "succeeded": "green", "failed": "red", "lost": "red", "cancelled": "yellow",
    "running": "cyan", "queued": "blue", "pending": "dim",
}
MOST_ROWS = 30  # a table of a 10,000-task sweep helps nobody: show the tasks that need a look


def finish_run(store, run, *, wait: bool, as_json: bool) -> int:
    """Wait (or not), then print the outcome. Exit code: 0 all succeeded (or not waited), 1 not."""
    target = get_target(run.target)
    if not wait:
        # What was just recorded, and what the state files say: asking the scheduler about every
        # row here would cost more than submitting a 10,000-row sweep. `freight status` asks.
        statuses = store.refresh(run.id)
        _print(run, statuses, as_json, waited=False)
        return 0
    try:
        statuses = watch.wait(store, target, run, console=None if as_json else err)
    except KeyboardInterrupt:
        if run.target != "local":
            err.print(f"stopped following; the run goes on: `freight wait {run.id}`")
            return 130
        err.print(f"interrupted: cancelling run {run.id} (`freight run --no-wait` leaves runs running)")
        target.cancel(run)
        statuses = _settle(store, target, run)
    _print(run, statuses, as_json, waited=True)
    return 0 if all(s.state is TaskState.succeeded for s in statuses) else 1


def _settle(store, target, run, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while True:
        statuses = watch.current_status(store, target, run)
        if watch.is_settled(statuses) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)


def _print(run, statuses, as_json: bool, waited: bool) -> None:
    if as_json:
        print_json(json.dumps(run_record(run, statuses), indent=1))
        return
    print_status(run, statuses, only_problems=waited)
    if waited:
        print_results(run, statuses, only_if_reported=True)


def run_record(run, statuses) -> dict:
    return {
        "id": run.id, "name": run.name, "target": run.target, "created": run.created,
        "run_dir": str(run.paths.root), "counts": dict(summary(statuses)),
        "tasks": [_task_json(s) for s in statuses],
    }


def _task_json(status) -> dict:
    return {"index": status.index, "state": status.state.value, "params": status.params,
            "attempt": status.attempt, "exit_code": status.exit_code, "reason": status.reason,
            "host": status.host, "started": status.started, "ended": status.ended,
            "scheduler_id": status.scheduler_id}


def summary(statuses) -> Counter:
    return Counter(s.state.value for s in statuses)


def summary_line(statuses) -> str:
    tally = summary(statuses)
    parts = [f"[{STATE_STYLE.get(state, '')}]{n} {state}[/]" for state, n in sorted(tally.items())]
    return ", ".join(parts) if parts else "no tasks"


def print_status(run, statuses, only_problems: bool = False) -> None:
    """The summary line, then a row per task (only those that did not succeed, when there are
    many or when `only_problems`)."""
    err.print(f"run [bold]{run.id}[/] ({run.target}): {summary_line(statuses)}")
    shown = statuses if len(statuses) <= MOST_ROWS and not only_problems else [
        s for s in statuses if s.state is not TaskState.succeeded][:MOST_ROWS]
    if not shown:
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("task", "state", "attempt", "exit", "params", "why"):
        table.add_column(column, overflow="fold")
    for s in shown:
        style = STATE_STYLE.get(s.state.value, "")
        params = " ".join(f"{k}={v}" for k, v in s.params.items())
        why = "" if s.state is TaskState.succeeded else (s.reason or "")
        if s.log_tail and s.state in (TaskState.failed, TaskState.lost):
            why = f"{why}: {s.log_tail.strip().splitlines()[-1]}" if s.log_tail.strip() else why
        table.add_row(str(s.index), f"[{style}]{s.state.value}[/]", str(s.attempt),
                      "" if s.exit_code is None else str(s.exit_code), params, why)
    out.print(table)
    # Counted, not searched for: `s not in shown` compares every field, 30 times per task.
    problems = sum(1 for s in statuses if s.state is not TaskState.succeeded)
    hidden = problems - sum(1 for s in shown if s.state is not TaskState.succeeded)
    if hidden:
        err.print(f"({hidden} more not shown; `freight status {run.id} --json` has all)")


def print_results(run, statuses, only_if_reported: bool = False) -> None:
    table = results_table(run, statuses)
    if only_if_reported and not table.metrics:
        return
    rich_table = Table(show_edge=False, pad_edge=False)
    for column in table.columns:
        rich_table.add_column(column, justify="right" if column != "state" else "left")
    for row in table.rows[:MOST_ROWS if only_if_reported else None]:
        rich_table.add_row(*(_cell(row.get(c)) for c in table.columns))
    out.print(rich_table)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
