"""The Target protocol: what every place freight runs tasks on must do.

A target turns a run's tasks into scheduler work and back into task states. Status comes from
the task state files first (written by the task wrapper on every target) and from the
scheduler second, so `poll` only has to answer for tasks whose state file is missing or stale.
A new target is one module here plus its templates plus its tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from freight.errors import ConfigError

if TYPE_CHECKING:
    from freight.runs.store import RunRecord
    from freight.spec.job import Job
    from freight.spec.state import TaskState


@dataclass(frozen=True)
class Capabilities:
    """What a target can do, as data, so freight refuses before submitting rather than after."""

    arrays: bool = True
    throttle: bool = True
    gpus: bool = True
    gpu_types: bool = False
    multi_node: bool = False
    launchers: tuple[str, ...] = ()  # multi-node launchers (freight.launchers) it can start
    requeue: bool = False
    time_limit: bool = True


@dataclass
class Submission:
    """What `submit` handed to the scheduler: a scheduler id per task index."""

    ids: dict[int, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)


class Target(Protocol):
    name: str
    capabilities: Capabilities

    def check(self, job: Job) -> None:
        """Raise ConfigError (one line) if this target cannot run the job as asked."""

    def render(self, run: RunRecord, indices: list[int]) -> dict[str, str]:
        """The files (name -> text) that `submit` would hand to the scheduler."""

    def submit(self, run: RunRecord, indices: list[int]) -> Submission:
        """Hand these tasks to the scheduler; return their ids. Must not block on the tasks."""

    def poll(self, run: RunRecord) -> dict[int, TaskState]:
        """The scheduler's view of tasks that have no final state file yet."""

    def is_alive(self, run: RunRecord, index: int, state: dict) -> bool | None:
        """Whether a task its state file calls running still is: True, False, or None (unknown)."""

    def cancel(self, run: RunRecord) -> None:
        """Stop every unfinished task of the run."""


def refuse_unsupported(target: Target, job: Job) -> None:
    """The checks every target shares, driven by its Capabilities."""
    caps, res = target.capabilities, job.resources
    problems = [
        (len(job.tasks) > 1 and not caps.arrays, "sweeps (job arrays)"),
        (job.max_parallel is not None and not caps.throttle, "--max-parallel"),
        (res.gpus > 0 and not caps.gpus, "GPUs"),
        (res.gpu_type is not None and not caps.gpu_types, "typed GPUs (--gpu-type)"),
        (job.launcher is not None and job.launcher not in caps.launchers, f"--{job.launcher}"),
        (res.nodes > 1 and not (caps.multi_node or job.launcher in caps.launchers), "several nodes (--nodes)"),
    ]
    for unsupported, what in problems:
        if unsupported:
            raise ConfigError(
                f"target {target.name!r} cannot run {what}",
                fix="drop that option or pick another --target",
            )
    check_preemption(job)


def check_preemption(job: Job) -> None:
    """The preemption settings every target reads the same way (freight.preempt)."""
    from freight.errors import InputError
    from freight.preempt import parse_signal

    wanted = job.preemption
    try:
        signum, lead = parse_signal(wanted.signal)
    except InputError as exc:
        raise ConfigError(exc.problem, fix=exc.fix) from None
    if signum is not None and signum.name in ("SIGKILL", "SIGSTOP"):
        raise ConfigError(f"the preemption signal cannot be {signum.name}: a program cannot catch it",
                          fix='use USR1 or USR2, like "USR1@90"')
    time_s = job.resources.time_s
    if signum is not None and time_s and lead >= time_s:
        raise ConfigError(f"the signal comes {lead} s before the time limit, which is only {time_s} s",
                          fix="ask for it fewer seconds ahead, or for more time")
    if wanted.checkpoint_cmd and signum is None:
        raise ConfigError("a checkpoint command runs when the preemption signal arrives, and none is set",
                          fix='add --signal USR1@90 (or signal = "USR1@90" under [preemption])')
