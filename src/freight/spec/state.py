"""Task states, shared by the task wrapper, the run store and every target."""

from __future__ import annotations

from enum import Enum


class TaskState(str, Enum):
    pending = "pending"  # known to freight, not yet handed to a scheduler
    queued = "queued"  # handed to a scheduler, waiting for a slot
    running = "running"
    succeeded = "succeeded"
    failed = "failed"  # ran and exited non-zero, or timed out / ran out of memory (see reason)
    cancelled = "cancelled"
    lost = "lost"  # was running, but its process or node is gone without a final state

    @property
    def finished(self) -> bool:
        return self in FINISHED

    @property
    def retryable(self) -> bool:
        return self in (TaskState.failed, TaskState.cancelled, TaskState.lost, TaskState.pending)


FINISHED = frozenset({TaskState.succeeded, TaskState.failed, TaskState.cancelled, TaskState.lost})
