"""Ahead of a time limit or a preemption, inside the task wrapper: the warning signal, the
checkpoint command and requeueing. Stdlib only, like freight.task: it runs in every task.

The warning. `Job.preemption.signal` ("USR1@90": SIGUSR1 90 s before the time limit) reaches the
wrapper from the scheduler (Slurm `--signal=B:USR1@90`; Grid Engine `-notify`: SIGUSR1 before a
suspend, SIGUSR2 before a kill) and from the wrapper's own timer, `lead` seconds before the
task's time limit unless the scheduler's came first: every target, local included, warns in
time and once. The wrapper passes the signal to the program and runs `checkpoint_cmd` (an argv,
with the task's environment and workdir, output in the task's logs) under its own time limit;
in the job's image when it has one, as the program (a new container: it shares the program's
files and mounts, not its processes).

Requeue. With `requeue`, a task that was warned, or that Slurm itself requeued (preemption,
`scontrol requeue`: its Restarts count went up), and that did not succeed goes back to the
queue instead of failing. Its state.json says "queued", with `requeues` (carried from attempt
to attempt) and `requeue_by`, the one who runs it again:
  slurm    the wrapper runs `scontrol requeue` (the job is submitted with --requeue);
  sge      the wrapper exits 99, which Grid Engine reschedules;
  freight  anywhere else (local, or a scheduler that refused): the next `freight status` or
           `freight wait` resubmits it (runs/requeue.py).
Past `max_requeue` the task fails with the reason "requeued N times".
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any, NamedTuple

from freight.errors import FreightError, InputError
from freight.fsutil import write_json_atomic
from freight.spec.state import TaskState

DEFAULT_LEAD_S = 60  # Slurm's own default for a --signal without @seconds
DEFAULT_CHECKPOINT_TIMEOUT_S = 60.0
SCHEDULER_ENV = "FREIGHT_SCHEDULER"  # "slurm" or "sge": exported by freight's job scripts
SGE_RESCHEDULE_EXIT = 99  # Grid Engine reruns a job that exits 99 ...
SGE_ERROR_EXIT = 100  # ... and holds one that exits 100 in its error state
REQUEUED_STATES = ("queued", "running")  # a previous attempt that was requeued, or cut off


def parse_signal(text: str | None) -> tuple[signal.Signals | None, int]:
    """"USR1@90" -> (SIGUSR1, 90); "SIGUSR2" -> (SIGUSR2, 60); None -> (None, 0)."""
    if not text:
        return None, 0
    name, _, lead = text.upper().partition("@")
    try:
        signum = signal.Signals[name if name.startswith("SIG") else "SIG" + name]
    except KeyError:
        raise InputError(f"unknown signal {text!r} in the preemption settings",
                         fix='use a signal name and the seconds before the limit, like "USR1@90"') from None
    return signum, int(lead) if lead.isdigit() else DEFAULT_LEAD_S


class Plan(NamedTuple):
    """job.json's "preemption", read without pydantic (nor dataclasses: every task imports this)."""

    signum: signal.Signals | None = None
    lead_s: int = 0
    checkpoint_cmd: tuple[str, ...] = ()
    requeue: bool = False
    max_requeue: int = 3

    @classmethod
    def from_job(cls, job: Mapping[str, Any]) -> Plan:
        wanted = job.get("preemption") or {}
        signum, lead = parse_signal(wanted.get("signal"))
        return cls(signum, lead, tuple(wanted.get("checkpoint_cmd") or ()),
                   bool(wanted.get("requeue")), int(wanted.get("max_requeue", 3)))

    def warn_after(self, time_s: float | None) -> float | None:
        """When the wrapper's own warning fires, in seconds from the program's start."""
        if self.signum is None or not time_s or self.lead_s >= time_s:
            return None
        return float(time_s - self.lead_s)


def carried_requeues(previous: Any) -> int:
    """The requeue count a new attempt inherits: from an attempt that was requeued (or cut
    off by the scheduler, which requeued it), not from one that ended: a `freight retry`
    starts counting afresh."""
    if not isinstance(previous, dict) or previous.get("state") not in REQUEUED_STATES:
        return 0
    return int(previous.get("requeues") or 0)


def requeuer(env: Mapping[str, str]) -> str:
    """Who runs a requeued task again: the scheduler the job script named, else freight."""
    named = env.get(SCHEDULER_ENV, "")
    return named if named in ("slurm", "sge") else "freight"


def checkpoint_timeout(env: Mapping[str, str], lead_s: int) -> float:
    """$FREIGHT_CHECKPOINT_TIMEOUT, else the warning's lead, at most DEFAULT_CHECKPOINT_TIMEOUT_S."""
    try:
        return float(env["FREIGHT_CHECKPOINT_TIMEOUT"])
    except (KeyError, ValueError):
        return float(min(lead_s or DEFAULT_CHECKPOINT_TIMEOUT_S, DEFAULT_CHECKPOINT_TIMEOUT_S))


class Checkpoint:
    """The checkpoint command, run in a thread so the wrapper goes on handling signals (and its
    time limit) meanwhile; one run at a time."""

    def __init__(self, argv: list[str], *, cwd: str, env: dict[str, str], logs: tuple[IO, IO],
                 log: Callable[[str], None], timeout: float):
        self.argv, self.cwd, self.env, self.logs, self.log, self.timeout = argv, cwd, env, logs, log, timeout
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            self.log("freight: the checkpoint command is still running; not started again")
            return
        self.thread = threading.Thread(target=self._run, name="freight-checkpoint", daemon=True)
        self.thread.start()

    def join(self) -> None:
        """Wait for a running checkpoint: its output and outcome belong to this attempt."""
        if self.thread is not None:
            self.thread.join(self.timeout + 5)

    def _run(self) -> None:
        try:
            proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=self.logs[1], stderr=self.logs[0], start_new_session=True)
        except OSError as exc:
            self.log(f"freight: the checkpoint command {self.argv[0]} could not start: {exc.strerror}")
            return
        try:
            code = proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            self.log(f"freight: the checkpoint command ran over {self.timeout:g} s and was killed")
            return
        self.log(f"freight: the checkpoint command exited {code}")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class PreemptionHandler:
    """The warning, checkpoint and requeue of one freight.task.TaskAttempt."""

    def __init__(self, attempt: Any):
        self.attempt = attempt
        self.plan = Plan.from_job(attempt.job)
        self.warned: str | None = None  # the warning signal's name, once one came
        self.checkpoint: Checkpoint | None = None
        self.requeue_by: str | None = None  # who runs this task again, once it is requeued
        self.by_scheduler = False  # Slurm requeued it itself (preemption, scontrol requeue)

    def install(self, handler: Callable) -> None:
        if self.plan.signum is not None:
            signal.signal(self.plan.signum, handler)

    def carry(self, previous: Any) -> None:
        self.attempt.state["requeues"] = carried_requeues(previous)

    def refusal(self) -> int | None:
        """An exit code when the task was requeued more often than allowed (by Slurm, which
        does not ask): the program is not run again."""
        count = int(self.attempt.state.get("requeues") or 0)
        if not self.plan.requeue or count <= self.plan.max_requeue:
            return None
        self.attempt.start_error = (f"requeued {count} times, more than max_requeue "
                                    f"({self.plan.max_requeue}): not run again")
        self.attempt._log(f"freight: {self.attempt.start_error}")
        return 1

    def is_warning(self, signum: int) -> bool:
        return self.plan.signum is not None and signum == self.plan.signum

    def own_warning(self) -> None:
        """The wrapper's own timer fired, `lead` seconds before the limit: arm the limit's
        timer, and warn unless the scheduler's warning came first."""
        signal.setitimer(signal.ITIMER_REAL, float(self.plan.lead_s))
        if self.warned is None:  # once is enough
            self.warn(self.plan.signum, own=True)

    def warn(self, signum: int, own: bool = False) -> None:
        self.warned = signal.Signals(signum).name
        source = f"the wrapper's own, {self.plan.lead_s} s before the time limit" if own else "from outside"
        then = "; running the checkpoint command" if self.plan.checkpoint_cmd else ""
        self.attempt._log(f"freight: {self.warned} ({source}) passed to the program{then}")
        self.attempt._send(signum)
        checkpoint = self._checkpoint() if self.plan.checkpoint_cmd else None
        if checkpoint is not None:
            checkpoint.start()

    def settle(self, state: TaskState, reason: str) -> tuple[TaskState, str]:
        """After the program ended: wait for a running checkpoint, then requeue the task, fail
        it for having been requeued too often, or leave its outcome alone."""
        if self.checkpoint is not None:
            self.checkpoint.join()
        by = self._requeuer(state)
        if by is None:
            return state, reason
        count = int(self.attempt.state.get("requeues") or 0) + 1
        if count > self.plan.max_requeue and not self.by_scheduler:
            return TaskState.failed, f"requeued {count - 1} times (max_requeue); last attempt: {reason}"
        self.requeue_by = by
        self.attempt.state.update(requeues=count, requeue_by=by)
        why = "Slurm requeued the job (preemption or scontrol requeue)" if self.by_scheduler else (
            f"{self.warned} ahead of the limit, then {reason}")
        return TaskState.queued, f"requeued ({count} of {self.plan.max_requeue}): {why}"

    def hand_back(self, exit_code: int) -> int:
        """Ask the scheduler to run a requeued task again; the wrapper's exit code."""
        if self.requeue_by == "sge":
            return SGE_RESCHEDULE_EXIT
        if self.requeue_by == "slurm" and not self.by_scheduler:
            refused = slurm_requeue(os.environ)
            if refused:  # e.g. submitted with --no-requeue: freight resubmits it instead
                self.attempt._log(f"freight: scontrol requeue failed: {refused}")
                self.attempt.state.update(requeue_by="freight", reason=self.attempt.state["reason"]
                                          + f"; Slurm refused to requeue it ({refused}), freight resubmits it")
                write_json_atomic(self.attempt.paths.state(self.attempt.index), self.attempt.state)
        if requeuer(os.environ) == "sge" and exit_code in (SGE_RESCHEDULE_EXIT, SGE_ERROR_EXIT):
            return 1  # the program's own 99 or 100 must not reschedule or hold the job
        return exit_code

    def _requeuer(self, state: TaskState) -> str | None:
        if not self.plan.requeue or state is TaskState.succeeded:
            return None
        by = requeuer(os.environ)
        if self.attempt.cancelled:  # a cancel, unless Slurm is requeueing the job
            self.by_scheduler = by == "slurm" and slurm_is_requeueing(os.environ)
            return by if self.by_scheduler else None
        return by if self.warned else None

    def _checkpoint(self) -> Checkpoint | None:
        """The checkpoint command where the program runs: in the job's image when it has one (it
        usually runs the user's own code, which needs the image's python and packages), in a
        new container of that image with the same mounts and variables (engines/wrap.py)."""
        if self.checkpoint is None:
            from freight.task import command_argv, task_env  # freight.task imports this module

            a = self.attempt
            job = {"command": list(self.plan.checkpoint_cmd), "python": a.job.get("python"),
                   "container": a.job.get("container")}
            argv, env = command_argv(job, a.params), task_env(a.job, a.paths, a.index, a.params, os.environ)
            if a.job.get("container"):
                try:
                    argv, env = _in_image(a.job, str(a.paths.root), argv, env)
                except FreightError as exc:  # the engine is missing or refuses
                    a._log(f"freight: the checkpoint command cannot run in the image: {exc.one_line()}")
                    return None
            self.checkpoint = Checkpoint(argv, cwd=a.job["workdir"], env=env, logs=a.logs, log=a._log,
                                         timeout=checkpoint_timeout(os.environ, self.plan.lead_s))
        return self.checkpoint


def _in_image(job: Mapping[str, Any], run_dir: str, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """argv and env that run `argv` in the job's image, as the program was: through the
    engine, or as is inside a Kubernetes pod (freight's wrapper already runs in the image)."""
    from freight.engines.wrap import container_command, in_image

    if os.environ.get("FREIGHT_IN_IMAGE"):
        return in_image(argv), env
    wrapped = container_command(dict(job), run_dir, argv, env, dict(os.environ))
    return wrapped.argv, wrapped.env


# -- Slurm, from inside the job ---------------------------------------------------------------


def slurm_job_ref(env: Mapping[str, str]) -> str:
    """This array element as scontrol names it: "123_4" (or the plain job id)."""
    array, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else env.get("SLURM_JOB_ID", "")


def slurm_is_requeueing(env: Mapping[str, str]) -> bool:
    """Whether Slurm is requeueing this job right now (preemption, `scontrol requeue`): while
    the job ends, its Restarts count is already one more than this run's SLURM_RESTART_COUNT;
    a plain scancel leaves it alone."""
    done = _scontrol(["show", "job", "-o", slurm_job_ref(env)])
    found = re.search(r"\bRestarts=(\d+)", done.stdout if done else "")
    return bool(found) and int(found.group(1)) > int(env.get("SLURM_RESTART_COUNT") or 0)


def slurm_requeue(env: Mapping[str, str]) -> str | None:
    """`scontrol requeue` this element; None when Slurm took it, else Slurm's message."""
    done = _scontrol(["requeue", slurm_job_ref(env)])
    if done is not None and done.returncode == 0:
        return None
    said = " ".join((done.stderr or done.stdout).split()) if done is not None else ""
    return said or "scontrol could not be run"


def _scontrol(args: list[str]) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["scontrol", *args], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
