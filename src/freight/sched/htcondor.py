"""The HTCondor target: a sweep is ONE cluster (`queue task_index from <queue file>`), each
process running one task through the task wrapper; submitted, followed and removed through
the official Python bindings (`htcondor.Schedd`) or the condor_* commands (condor_tools.py).
Rendering (htcondor_render.py) needs no pool.

Each submission gets its own folder, scripts/htcondor-N/ (a retry keeps the first), with the
submit description, the queue file, the start script and, when files are transferred, what
goes with the job: .freight-run (job.json for the scratch folder, tasks.jsonl) and .freight-lib
(the wrapper). Every job ad carries FreightRun (the run id) and FreightTask (its task index),
so status, history and removal ask for the run's jobs by constraint, never by guessing
process numbers.

Status. Task state files come first (with file transfer they arrive when the job ends). The
schedd speaks for the rest: Idle -> queued, Running/Transferring/Suspended -> running,
Removed -> cancelled, Completed -> by exit code. A Held job (a failed transfer, a missing
image, an exceeded allowed_execute_duration) would wait for a person forever: freight removes
it and reports the task failed with HTCondor's hold reason. A job the wrapper never reported
on gets a final state.json with the schedd's word, as the Slurm target does.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from freight.errors import MissingToolError
from freight.fsutil import read_json, write_json_atomic
from freight.sched.base import Capabilities, Submission, refuse_unsupported
from freight.sched.common import submission_folder
from freight.sched.htcondor_render import (
    REMOTE_LIB,
    REMOTE_RUN,
    SCHED_LOGS,
    START_SCRIPT,
    SUBMIT_FILE,
    check_options,
    htcondor_options,
    remote_job,
    render_files,
)
from freight.sched.shipped import write_wrapper
from freight.spec.state import TaskState

META_KEY = "htcondor_clusters"  # store meta: [{"cluster", "folder", "submitted"}], oldest first
IDLE, RUNNING, REMOVED, COMPLETED, HELD, TRANSFERRING, SUSPENDED = 1, 2, 3, 4, 5, 6, 7
SNAPSHOT_TTL_S = 1.0


def task_state(ad: dict) -> tuple[TaskState, str | None]:
    """A job ad -> (task state, reason)."""
    status = int(ad.get("JobStatus", 0))
    if status == IDLE:
        return TaskState.queued, None
    if status in (RUNNING, TRANSFERRING, SUSPENDED):
        return TaskState.running, None
    if status == REMOVED:
        return TaskState.cancelled, ad.get("RemoveReason") or "removed (condor_rm)"
    if status == HELD:
        return TaskState.failed, f"held by HTCondor: {ad.get('HoldReason') or 'no reason given'}"
    if status == COMPLETED:
        if ad.get("ExitBySignal"):
            return TaskState.failed, f"killed by signal {ad.get('ExitSignal')}"
        code = int(ad.get("ExitCode") or 0)
        return (TaskState.succeeded, None) if code == 0 else (TaskState.failed, f"exit {code}")
    return TaskState.queued, None  # unknown or unexpanded: still the schedd's


class HTCondorTarget:
    name = "htcondor"
    # Throttle: max_materialize. Requeue: checkpoint_exit_code. One machine per job: no --nodes;
    # GPU models are a `requirements` expression, not --gpu-type.
    capabilities = Capabilities(arrays=True, throttle=True, gpus=True, gpu_types=False, multi_node=False,
                                requeue=True, time_limit=True)

    def __init__(self) -> None:
        self._views: dict[str, tuple[float, dict[int, dict]]] = {}

    def check(self, job) -> None:
        refuse_unsupported(self, job)
        check_options(job, htcondor_options(job))
        if job.pack > 1:
            from freight.errors import ConfigError

            raise ConfigError("target 'htcondor' cannot run --pack: a process runs one task",
                              fix="drop --pack (HTCondor handles many small jobs well), or pick another --target")
        self._condor()  # MissingToolError: `freight script` renders anyway

    def render(self, run, indices: list[int]) -> dict[str, str]:
        folder = self._folder(run, create=False)
        return render_files(run, run.job, htcondor_options(run.job), folder, indices)

    def prepare(self, run, indices: list[int]) -> Path:
        """Write one submission's files (and what goes with the job); its folder."""
        options = htcondor_options(run.job)
        folder = self._folder(run)
        for name, text in render_files(run, run.job, options, folder, indices).items():
            (folder / name).write_text(text, encoding="utf-8")
        (folder / START_SCRIPT).chmod(0o755)
        (run.paths.root / SCHED_LOGS).mkdir(parents=True, exist_ok=True)
        if options.transfer_input:
            self._stage(run, options, folder)
        return folder

    def submit(self, run, indices: list[int]) -> Submission:
        condor = self._condor()  # before writing anything: MissingToolError names what is missing
        folder = self.prepare(run, indices)
        cluster = condor.submit(folder / SUBMIT_FILE)
        entries = read_json(self._meta_path(run), []) or []
        write_json_atomic(self._meta_path(run), [*entries, {"cluster": cluster, "folder": folder.name,
                                                            "submitted": time.time()}])
        self._views.pop(run.id, None)
        return Submission(ids={index: f"{cluster}.{proc}" for proc, index in enumerate(indices)})

    def poll(self, run) -> dict[int, TaskState]:
        states: dict[int, TaskState] = {}
        for index, ad in (self._view(run) or {}).items():
            if self._has_final_state(run, index):
                continue
            state, reason = task_state(ad)
            if int(ad.get("JobStatus", 0)) == HELD:
                self._condor().remove(f"ClusterId == {int(ad['ClusterId'])} && ProcId == {int(ad['ProcId'])}")
            if state.finished:
                state = self._record_end(run, index, ad, state, reason)
            states[index] = state
        return states

    def is_alive(self, run, index: int, state: dict) -> bool | None:
        ad = (self._view(run) or {}).get(index)
        if ad is None:
            return None
        return task_state(ad)[0] in (TaskState.running, TaskState.queued)

    def cancel(self, run) -> None:
        from freight.sched.condor_tools import run_constraint

        self._condor().remove(run_constraint(run.id))
        self._views.pop(run.id, None)

    # -- internals ---------------------------------------------------------------------------

    def _condor(self):
        from freight.sched.condor_tools import Condor

        return Condor()

    def _folder(self, run, create: bool = True) -> Path:
        return submission_folder(run, "htcondor", create)

    def _stage(self, run, options, folder: Path) -> None:
        """What goes with the job: job.json for the scratch folder, tasks.jsonl, the wrapper."""
        remote = folder / REMOTE_RUN
        remote.mkdir(exist_ok=True)
        write_json_atomic(remote / "job.json", remote_job(run.job, options))
        shutil.copyfile(run.paths.tasks, remote / "tasks.jsonl")
        write_wrapper(folder / REMOTE_LIB)
        (run.paths.root / "tasks").mkdir(exist_ok=True)  # initialdir, where task folders come back

    def _meta_path(self, run) -> Path:
        return run.paths.scripts / "htcondor-clusters.json"

    def _view(self, run) -> dict[int, dict] | None:
        """{task index: its newest job ad}: the queue first, then history; one look per second."""
        taken, view = self._views.get(run.id, (0.0, None))
        if view is not None and time.monotonic() - taken < SNAPSHOT_TTL_S:
            return view
        if not read_json(self._meta_path(run), []):
            return {}
        try:
            condor = self._condor()
        except MissingToolError:
            return None
        queued, history = condor.query(run.id), condor.history(run.id)
        if queued is None:
            return None
        view = {}
        for ad in sorted([*(history or []), *queued], key=lambda ad: int(ad.get("ClusterId", 0))):
            if str(ad.get("FreightTask", "")).isdigit():
                view[int(ad["FreightTask"])] = ad  # the newest cluster of a retried task wins
        self._views[run.id] = (time.monotonic(), view)
        return view

    def _has_final_state(self, run, index: int) -> bool:
        state = read_json(run.paths.state(index), {}) or {}
        return TaskState(state["state"]).finished if state.get("state") in TaskState.__members__ else False

    def _record_end(self, run, index: int, ad: dict, state: TaskState, reason: str | None) -> TaskState:
        """The final state.json a wrapper that never reported could not write; the state written."""
        job_id = f"{ad.get('ClusterId')}.{ad.get('ProcId')}"
        final = {"state": state.value, "index": index, "ended": time.time(), "htcondor_job": job_id,
                 "reason": reason or "the job ended and the task left no state",
                 "log_tail": _tail(run.paths.root / SCHED_LOGS / f"{job_id}.err")}
        if state is TaskState.succeeded:  # the job exited 0, yet the task's own state never came back
            final.update(state=TaskState.lost.value, reason="the job ended but the task's state never came back")
        if ad.get("ExitCode") is not None:
            final["exit_code"] = int(ad["ExitCode"])
        write_json_atomic(run.paths.state(index), final)
        return TaskState(final["state"])


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
