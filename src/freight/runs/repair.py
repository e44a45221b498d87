"""What a status call puts right before it reports (runs/watch.py current_status):

- Submissions whose job ids freight never recorded, because it was killed between handing a
  script to the scheduler and writing down the answer: a target that records each array before
  submitting it can find the job again (`find_unrecorded`, by the run's job name or comment);
  its still-pending tasks are then marked submitted with their ids, so `freight retry` does not
  submit them a second time.
- Tasks the task wrapper handed back to freight to run again (`requeue_by: "freight"` in
  state.json, see freight/preempt.py: a requeue on the local target, or one the scheduler
  refused): resubmitted, each by exactly one freight process, which claims the state file by
  renaming it.
"""

from __future__ import annotations

import os
import time

from freight.fsutil import read_json, write_json_atomic
from freight.spec.state import TaskState

HANDED_BACK = "freight"  # requeue_by: freight runs the task again
RESUBMITTED = "freight (resubmitted)"


def repair(store, target, run, statuses: list) -> bool:
    """Whether anything changed, so the caller reads the tasks' states again."""
    adopted = adopt_unrecorded(store, target, run, statuses)
    return resubmit_handed_back(store, target, run, statuses) or adopted


def adopt_unrecorded(store, target, run, statuses: list) -> bool:
    find = getattr(target, "find_unrecorded", None)
    found = find(run) if find is not None else None
    if not found or not found.ids:
        return False
    pending = {s.index for s in statuses if s.state is TaskState.pending}
    ids = {index: job for index, job in found.ids.items() if index in pending}
    if ids:  # a task that has written a state file since keeps it
        store.mark_submitted(run.id, list(ids), ids)
    return True


def resubmit_handed_back(store, target, run, statuses: list) -> bool:
    claimed = [index for index in _maybe_handed_back(statuses) if _claim(run.paths.state(index))]
    if not claimed:
        return False
    submission = target.submit(run, claimed)
    store.mark_submitted(run.id, claimed, submission.ids)
    for key, value in submission.meta.items():
        store.set_meta(run.id, key, value)
    return True


def cancel_handed_back(store, run) -> None:
    """`freight cancel`: handed-back tasks are not resubmitted any more, but cancelled. (The
    states are read without judging running tasks: the target is stopping them just now.)"""
    for index in _maybe_handed_back(store.refresh(run.id, is_alive=lambda _index, _state: True)):
        path = run.paths.state(index)
        if _claim(path):
            state = read_json(path, {}) or {}
            write_json_atomic(path, {**state, "state": TaskState.cancelled.value, "ended": time.time(),
                                     "reason": "cancelled while waiting to be resubmitted"})


def _maybe_handed_back(statuses: list) -> list[int]:
    """Queued tasks whose reason ("requeued (1 of 3): ...") came from a requeue's state file:
    only those are read again."""
    return [s.index for s in statuses if s.state is TaskState.queued and (s.reason or "").startswith("requeued (")]


def _claim(path) -> bool:
    """Take a handed-back task for this process: the rename succeeds in one process only, and
    the file renamed must still say "handed back" (another may have claimed it just before)."""
    if not _handed_back(read_json(path, {})):
        return False
    claim = path.with_name(f".{path.name}.claim-{os.getpid()}")
    try:
        os.rename(path, claim)
    except OSError:
        return False
    state = read_json(claim, {}) or {}
    if not _handed_back(state):
        os.rename(claim, path)
        return False
    write_json_atomic(path, {**state, "requeue_by": RESUBMITTED})
    claim.unlink()
    return True


def _handed_back(state) -> bool:
    return (isinstance(state, dict) and state.get("state") == TaskState.queued.value
            and state.get("requeue_by") == HANDED_BACK)
