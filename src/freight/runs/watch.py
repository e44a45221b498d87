"""Following a run: one batched status call per poll, with backoff, and a progress bar.

Status comes from the task state files first (RunStore.refresh) and from the target second,
only for tasks that have no state file yet.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from freight.runs.repair import repair
from freight.spec.state import FINISHED, TaskState


def current_status(store, target, run) -> list:
    """Every task's status now: state files, then the scheduler's view for the rest."""
    statuses = store.refresh(run.id, is_alive=lambda index, state: target.is_alive(run, index, state))
    if repair(store, target, run, statuses):  # lost submissions found, handed-back tasks resubmitted
        statuses = store.refresh(run.id, is_alive=lambda index, state: target.is_alive(run, index, state))
    if any(s.state in (TaskState.pending, TaskState.queued) for s in statuses):
        by_state: dict[TaskState, list[int]] = {}
        seen = target.poll(run)
        for status in statuses:
            new = seen.get(status.index)
            if new is not None and new != status.state and not status.state.finished:
                by_state.setdefault(new, []).append(status.index)
                status.state = new
        for state, indices in by_state.items():
            store.mark(run.id, indices, state)
        if any(state.finished for state in by_state):
            # A target that learned how a task ended writes its state file with the reason
            # (timeout, out of memory …): read it now, not one poll later.
            statuses = store.refresh(run.id, is_alive=lambda index, state: target.is_alive(run, index, state))
        explain_waiting(target, run, statuses)
    return statuses


def explain_waiting(target, run, statuses) -> str | None:
    """A target that can tell why queued tasks do not start (Grid Engine: a queue in error
    state) has its poll's answer put in their reason, for `freight status`; not stored."""
    why_pending = getattr(target, "why_pending", None)
    note = why_pending(run) if why_pending else None
    for status in statuses:
        if note and status.state is TaskState.queued and not status.reason:
            status.reason = note
    return note


def counts(statuses) -> Counter:
    return Counter(s.state for s in statuses)


def is_settled(statuses) -> bool:
    """All finished, or nothing left that could move (never-started tasks with no one to start them)."""
    active = {TaskState.running, TaskState.queued}
    return not any(s.state in active for s in statuses)


@dataclass
class Backoff:
    """Poll quickly at first (short local tasks), then back off to spare the scheduler."""

    first: float = 0.1
    most: float = 5.0
    factor: float = 1.3
    now: float = 0.0

    def next(self) -> float:
        self.now = self.first if not self.now else min(self.most, self.now * self.factor)
        return self.now


def wait(store, target, run, console: Console | None = None, backoff: Backoff | None = None) -> list:
    backoff = backoff or Backoff()
    show = console is not None and console.is_terminal
    with _progress(console, show) as progress:
        bar = progress.add_task(run.id, total=len(run.tasks()), done=0, running=0, failed=0)
        said = None
        while True:
            statuses = current_status(store, target, run)
            said = _tell_waiting(console, target, run, said)
            tally = counts(statuses)
            finished = sum(tally[s] for s in FINISHED)
            progress.update(bar, completed=finished, running=tally[TaskState.running],
                            failed=tally[TaskState.failed] + tally[TaskState.lost])
            if is_settled(statuses):
                return statuses
            sleep_between_polls(target, run, backoff.next())


def _tell_waiting(console: Console | None, target, run, said: str | None) -> str | None:
    """Say once while following a run why its queued tasks wait (until someone acts, it may be)."""
    why_pending = getattr(target, "why_pending", None)
    note = why_pending(run) if why_pending else None
    if console is not None and note and note != said:
        console.print(f"waiting: {note}", style="yellow", markup=False, emoji=False, highlight=False)
    return note or said


def sleep_between_polls(target, run, seconds: float) -> None:
    """Sleep `seconds`, or less where the target can tell that its tasks are done: the local
    target wakes when its supervisor exits, so `freight run` returns right after the last task
    rather than up to a whole (backed-off) polling interval later."""
    until_done = getattr(target, "sleep_until_done", None)
    if until_done is None:
        time.sleep(seconds)
    else:
        until_done(run, seconds)


def _progress(console: Console | None, show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} done"),
        TextColumn("[cyan]{task.fields[running]} running"),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
        transient=False,
    )
