"""The Slurm target: sweeps become job arrays submitted with `sbatch`, followed with one
`squeue` (plus one `sacct` where accounting exists) per poll, stopped with one `scancel`.

Rendering needs no cluster: each array is one script from templates/slurm.sbatch.j2 with
every resource freight models as an `#SBATCH` line.

Arrays. MaxArraySize caps the array *index*, not the count (default 1001: indices 0..1000),
so tasks are cut into chunks whose indices minus the chunk's offset stay below it; the script
exports the offset and the task wrapper adds it to SLURM_ARRAY_TASK_ID. A retry is an array
over just the given indices (`--array=3,7,12-15`). With --max-parallel, chunks run one after
another (`afterany`), so the throttle holds for the whole sweep, not per array. With --pack K
an element runs up to K tasks one after another (task_pack.py): the arrays then index the
lines of a pack file in the submission's script folder, and status maps each element back to
its tasks (a pending element is K queued tasks).

Status. Task state files come first. The scheduler speaks for tasks without a current one
(queued; cancelled while pending; a job script that failed before the wrapper started) and
judges tasks whose file says running (`is_alive`). When Slurm knows how a job ended and the
wrapper could not say (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, a broken script), this target writes
the final state.json itself with Slurm's reason, as any supervisor may (see runs/store.py).

Submitting. Each array is recorded (store meta, with its script) before sbatch and gets its job
id after; one left without, because freight was killed in between, is found again by the run's
comment and the script (`find_unrecorded`, from `freight status`), so nothing runs twice. A
request no node can ever meet is refused first, quoting `sbatch --test-only`.

Preemption. [preemption] signal becomes `--signal=B:USR1@90` (to the task wrapper, which passes
it on and checkpoints); requeue `--requeue`, else `--no-requeue`, so that freight, not the
cluster's JobRequeue default, decides what runs again. A requeued task's state file says
"queued" until Slurm runs it again (freight/preempt.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from freight.errors import ConfigError, FreightError, MissingToolError
from freight.fsutil import read_json, write_json_atomic
from freight.runs.store import RunStore
from freight.sched.base import Capabilities, Submission, refuse_unsupported
from freight.sched.batch import (
    ToolTimeout, consecutive_ranges, crash_point, expand_ranges, one_line, parse_ranges, run_tool,
    sort_unrecorded, submitter,
)
from freight.sched.render import render_template
from freight.spec.job import Job
from freight.spec.patterns import check_env_names, check_signal_spec
from freight.spec.resources import format_duration
from freight.spec.state import TaskState
from freight.task_pack import PACK_FILE, pack_file_text, pack_groups, read_pack_file

META_KEY = "slurm_jobs"  # store meta: [{"job", "offset", "array", "submitted"[, "pack"]}], oldest first
SCHED_LOGS = "sched-logs"  # the job scripts' own stdout/stderr, %A_%a.out/.err
DEFAULT_MAX_ARRAY_SIZE = 1001
MAX_ARRAY_SPEC_CHARS = 10_000  # keeps one --array argument a sane size for any controller
SNAPSHOT_TTL_S = 1.0  # one squeue answers every is_alive/poll of one watch iteration
COMMAND_TIMEOUT_S = 60
GONE = "GONE"  # in neither squeue nor sacct: ended, and forgotten
UNKNOWN = "UNKNOWN"  # the scheduler could not be asked
IMPOSSIBLE = "Requested node configuration is not available"  # sbatch: no node can ever run it
# sbatch's words when slurmctld takes no more jobs for now (sbatch.c, slurm_strerror(EAGAIN)), and
# what to do about it
QUEUE_FULL_SIGNS = ("job queue full", "temporarily unable to accept job", "Resource temporarily unavailable",
                    "MaxJobCount")
QUEUE_FULL_WHY = "Slurm's job queue is full: MaxJobCount in slurm.conf; or slurmctld is overloaded"
QUEUE_FULL_FIX = ("submit fewer jobs at once: --pack K runs K tasks in each array element; or wait until "
                  "queued jobs finish and run again (`scontrol show config | grep MaxJobCount` shows the cap)")
INSTALL_FIX = "run freight on the cluster's login node, or install Slurm's client (slurm-client)"

# Slurm's job state -> (task state, reason). PREEMPTED without requeue is final (lost); a
# requeued job shows REQUEUED/PENDING (queued) and runs again.
STATES: dict[str, tuple[TaskState, str | None]] = {
    **dict.fromkeys(("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                     "RESV_DEL_HOLD"), (TaskState.queued, None)),
    **dict.fromkeys(("RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT",
                     "RESIZING"), (TaskState.running, None)),
    "COMPLETED": (TaskState.succeeded, None),
    "FAILED": (TaskState.failed, "failed"),
    "CANCELLED": (TaskState.cancelled, "cancelled"),
    "TIMEOUT": (TaskState.failed, "timeout"),
    "DEADLINE": (TaskState.failed, "deadline"),
    "OUT_OF_MEMORY": (TaskState.failed, "oom"),
    "SPECIAL_EXIT": (TaskState.failed, "special exit"),
    "NODE_FAIL": (TaskState.lost, "node failure"),
    "BOOT_FAIL": (TaskState.lost, "node boot failure"),
    "PREEMPTED": (TaskState.lost, "preempted"),
    "REVOKED": (TaskState.lost, "revoked"),
    GONE: (TaskState.lost, "gone"),
}


def slurm_task_state(slurm_state: str) -> tuple[TaskState, str | None] | None:
    """("CANCELLED by 0" | "RUNNING" | …) -> (task state, reason); None for a state we do not know."""
    words = slurm_state.split()
    return STATES.get(words[0].rstrip("+")) if words else None


# -- options ---------------------------------------------------------------------------------


class SlurmOptions(BaseModel):
    """`[targets.slurm]` in freight.toml (or a site profile)."""

    model_config = ConfigDict(extra="forbid")

    partition: str | None = None
    gpu_partition: str | None = None  # the partition of tasks that ask for GPUs (a site's GPU nodes)
    account: str | None = None
    qos: str | None = None
    gpu_syntax: Literal["gres", "gpus", "gpus-per-task", "none"] = "gres"  # none: the partition has them
    modules: list[str] = Field(default_factory=list)  # `module load` in the job script
    env: dict[str, str] = Field(default_factory=dict)  # exported by the job script
    sbatch_args: list[str] = Field(default_factory=list)  # one sbatch argument per item
    signal: str | None = None  # older spelling of [preemption] signal ("USR1@90"), still read
    max_array_size: int | None = Field(None, ge=2)  # lower than the cluster's MaxArraySize
    python: str | None = None  # interpreter with freight on the compute nodes (default: this one)

    def partition_for(self, gpus: int) -> str | None:
        return self.gpu_partition if gpus and self.gpu_partition else self.partition

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        return check_env_names(env)

    @field_validator("signal")
    @classmethod
    def _signal(cls, value: str | None) -> str | None:
        return check_signal_spec(value)


def slurm_options(job: Job) -> SlurmOptions:
    from freight.sched.common import load_target_options

    return load_target_options(SlurmOptions, job.target_options, "slurm")


# -- arrays ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One job array: task index = offset + SLURM_ARRAY_TASK_ID."""

    offset: int
    indices: tuple[int, ...]

    @property
    def spec(self) -> str:
        return array_spec([index - self.offset for index in self.indices])


def array_spec(numbers: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> "0-2,5,7-8" (sorted input)."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in consecutive_ranges(numbers))


def parse_array_spec(spec: str) -> list[int]:
    """"0-2,5,7-9:2%4" -> [0, 1, 2, 5, 7, 9]; the inverse of array_spec, plus steps."""
    return expand_ranges(parse_ranges(spec))


def plan_chunks(indices: list[int], max_size: int, max_tasks: int | None = None,
                max_chars: int = MAX_ARRAY_SPEC_CHARS) -> list[Chunk]:
    """Cut sorted task indices into arrays whose own indices stay below `max_size`, with at most
    `max_tasks` elements and an --array spec of at most about `max_chars` characters."""
    chunks: list[Chunk] = []
    current: list[int] = []
    offset = chars = 0
    for index in sorted(set(indices)):
        width = len(str(index - offset)) + 1  # an upper bound: runs compress to "a-b"
        full = max_tasks is not None and len(current) >= max_tasks
        if current and (index - offset >= max_size or full or chars + width > max_chars):
            chunks.append(Chunk(offset, tuple(current)))
            current = []
        if not current:
            offset, chars = (0 if index < max_size else index), 0
            width = len(str(index - offset)) + 1
        current.append(index)
        chars += width
    return chunks + ([Chunk(offset, tuple(current))] if current else [])


# -- the cluster -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterLimits:
    max_array_size: int = DEFAULT_MAX_ARRAY_SIZE
    max_array_tasks: int | None = None  # SchedulerParameters=max_array_tasks=N
    accounting: bool = False  # sacct has something to say


@lru_cache(maxsize=1)
def cluster_limits() -> ClusterLimits:
    """From `scontrol show config`, once per process; Slurm's defaults when it cannot be asked."""
    done = _slurm(["scontrol", "show", "config"], quiet=True)
    if done is None or done.returncode != 0:
        return ClusterLimits()
    pairs = (line.partition(" = ") for line in done.stdout.splitlines())
    config = {key.strip(): value.strip() for key, sep, value in pairs if sep}
    tasks = re.search(r"max_array_tasks=(\d+)", config.get("SchedulerParameters", ""))
    size = config.get("MaxArraySize", "")
    return ClusterLimits(
        max_array_size=int(size) if size.isdigit() else DEFAULT_MAX_ARRAY_SIZE,
        max_array_tasks=int(tasks.group(1)) if tasks else None,
        accounting=config.get("AccountingStorageType", "accounting_storage/none")
        != "accounting_storage/none",
    )


def _slurm(argv: list[str], quiet: bool = False) -> subprocess.CompletedProcess | None:
    """Run a Slurm command (any exit code). Missing or hung: FreightError, or None when `quiet`
    (following a run must not crash because the controller is slow for a moment)."""
    try:
        return run_tool(argv, check=False, timeout=COMMAND_TIMEOUT_S, fix=INSTALL_FIX)
    except FreightError:
        if quiet:
            return None
        raise


def squeue(job_ids: list[str]) -> dict[str, str] | None:
    """{"123_4": "RUNNING", …} for every element of these arrays Slurm still lists (finished ones
    for MinJobAge); None when squeue failed."""
    done = _slurm(["squeue", f"--jobs={','.join(job_ids)}", "--array", "--states=all",
                   "--noheader", "--format=%i|%T"], quiet=True)
    if done is None:
        return None
    if done.returncode != 0:  # every listed job is gone: "Invalid job id specified"
        return {} if "Invalid job id" in done.stderr else None
    seen: dict[str, str] = {}
    for line in done.stdout.splitlines():
        element, _, state = line.strip().partition("|")
        seen.update(dict.fromkeys(_elements(element), state))
    return seen


def squeue_scripts(run_id: str) -> dict[str, str] | None:
    """{job script: job id} of this user's jobs that carry the run's comment, as long as Slurm
    lists them (pending, running, or ended within MinJobAge); None when squeue failed."""
    done = _slurm(["squeue", "--me", "--noheader", "--states=all", "--format=%F|%k|%o"], quiet=True)
    if done is None or done.returncode != 0:
        return None
    found = {}
    for line in done.stdout.splitlines():
        job_id, comment, script = (line.strip().split("|", 2) + ["", ""])[:3]
        if comment == f"freight:{run_id}" and job_id.isdigit():
            found[script] = job_id
    return found


def sacct(job_ids: list[str]) -> dict[str, tuple[str, int | None]] | None:
    """{"123_4": ("FAILED", 3), …} from accounting (text output: --json misreports exit codes)."""
    done = _slurm(["sacct", "-X", "--noheader", "--parsable2", f"--jobs={','.join(job_ids)}",
                   "--format=JobID,State,ExitCode"], quiet=True)
    if done is None or done.returncode != 0:
        return None
    seen: dict[str, tuple[str, int | None]] = {}
    for line in done.stdout.splitlines():
        element, state, code = (line.split("|") + ["", ""])[:3]
        exit_code = code.split(":")[0]
        seen.update(dict.fromkeys(_elements(element), (state, int(exit_code) if exit_code.isdigit() else None)))
    return seen


def _elements(element: str) -> list[str]:
    """"123_4" -> ["123_4"]; a folded pending range "123_[5-7%2]" -> ["123_5", "123_6", "123_7"]."""
    job, _, task = element.partition("_")
    try:
        return [f"{job}_{n}" for n in parse_array_spec(task)] if task.startswith("[") else [element]
    except ValueError:  # not an array element: not one of ours
        return [element]


# -- rendering -------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")


def sbatch_word(value: str) -> str:
    """One argument on an `#SBATCH` line as sbatch's own parser reads it (not the shell): quotes
    group, a backslash escapes the next character, an unquoted `#` starts a comment."""
    if any(c in value for c in "\n\r\0"):
        raise ConfigError(f"an sbatch option cannot contain a line break: {value!r}",
                          fix="put the value on one line")
    if value and _PLAIN.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gpu_request(gpus: int, gpu_type: str | None, syntax: str) -> tuple[str, str | None]:
    if not gpus or syntax == "none":
        return "--gres", None
    amount = f"{gpu_type}:{gpus}" if gpu_type else str(gpus)
    return ("--gres", f"gpu:{amount}") if syntax == "gres" else (f"--{syntax}", amount)


def directives(run_id: str, run_dir: Path, job: Job, options: SlurmOptions, chunk: Chunk,
               per_element: int = 1) -> list[str]:
    """The `#SBATCH` arguments of one array, each quoted for sbatch's parser. An element that
    runs `per_element` tasks (--pack) gets that many times the task's time limit."""
    res = job.resources
    logs = str(run_dir / SCHED_LOGS).replace("%", "%%")  # % starts a Slurm filename pattern
    throttle = f"%{job.max_parallel}" if job.max_parallel else ""
    flags = [
        ("--job-name", job.name), ("--comment", f"freight:{run_id}"),
        ("--partition", options.partition_for(res.gpus)), ("--account", options.account), ("--qos", options.qos),
        ("--time", format_duration(res.time_s * per_element) if res.time_s else None),
        ("--nodes", res.nodes), ("--ntasks-per-node", res.tasks_per_node), ("--cpus-per-task", res.cpus),
        ("--mem", f"{res.mem_mb}M" if res.mem_mb else None),
        ("--tmp", f"{res.disk_mb}M" if res.disk_mb else None),
        gpu_request(res.gpus, res.gpu_type, options.gpu_syntax),
        ("--output", f"{logs}/%A_%a.out"), ("--error", f"{logs}/%A_%a.err"),
        ("--array", chunk.spec + throttle),
        ("--signal", batch_signal(job.preemption.signal or options.signal)),
    ]
    words = [f"{flag}={sbatch_word(str(value))}" for flag, value in flags if value is not None]
    # freight decides what runs again (--max-requeue, `freight retry`), not Slurm's JobRequeue default
    words.append("--requeue" if job.preemption.requeue else "--no-requeue")
    return words + [sbatch_word(arg) for arg in options.sbatch_args]


def batch_signal(wanted: str | None) -> str | None:
    """"SIGUSR1@90" -> "B:USR1@90": to the batch shell, which is the task wrapper (the script
    execs it); the wrapper passes it on to the program and runs the checkpoint command."""
    return f"B:{wanted.upper().removeprefix('SIG')}" if wanted else None


def render_script(run, job: Job, options: SlurmOptions, chunk: Chunk, pack: tuple[Path, int] | None = None) -> str:
    """One array's script; with `pack` (the pack file, rows per element), element
    offset+SLURM_ARRAY_TASK_ID runs that line of the pack file."""
    pack_file, per_element = pack or (None, 1)
    return render_template(
        "slurm.sbatch.j2", run_id=run.id, count=len(chunk.indices), array=chunk.spec,
        offset=chunk.offset, pack_file=pack_file, per_element=per_element,
        directives=directives(run.id, run.paths.root, job, options, chunk, per_element),
        modules=options.modules, env=options.env, workdir=job.workdir,
        python=options.python or sys.executable, run_dir=run.paths.root,
        launcher=job.launcher, nodes=job.resources.nodes,
    )


# -- the target ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    """One array element as Slurm last reported it."""

    job_id: str  # "12345_7"
    state: str  # Slurm's word, GONE or UNKNOWN
    exit_code: int | None
    submitted: float  # when its array was submitted (time.time())


class SlurmTarget:
    name = "slurm"
    capabilities = Capabilities(gpu_types=True, multi_node=True, requeue=True, launchers=("ray", "torchrun"))

    def __init__(self) -> None:
        self._views: dict[str, tuple[float, float, dict[int, Element] | None]] = {}
        self._stores: dict[Path, RunStore] = {}
        self._packs: dict[Path, list[list[int]]] = {}  # pack file -> rows per line (never rewritten)

    def check(self, job: Job) -> None:
        refuse_unsupported(self, job)
        options = slurm_options(job)
        if options.signal and job.preemption.signal and options.signal != job.preemption.signal:
            raise ConfigError(f"[targets.slurm] signal = {options.signal!r} and [preemption] signal = "
                              f"{job.preemption.signal!r} disagree", fix="keep the one under [preemption]")
        if shutil.which("sbatch") is None:
            raise MissingToolError("sbatch is not installed here (needed for --target slurm)", fix=INSTALL_FIX)

    def render(self, run, indices: list[int]) -> dict[str, str]:
        scripts, groups = self._plan(run, indices, self._script_folder(run, create=False))
        packs = {PACK_FILE: pack_file_text(groups)} if groups else {}
        return {**{name: text for name, _, text in scripts}, **packs}

    def submit(self, run, indices: list[int]) -> Submission:
        folder = self._script_folder(run)
        (run.paths.root / SCHED_LOGS).mkdir(parents=True, exist_ok=True)
        scripts, groups = self._plan(run, indices, folder)
        pack = {"pack": str((folder / PACK_FILE).relative_to(run.paths.root))} if groups else {}
        if groups:
            (folder / PACK_FILE).write_text(pack_file_text(groups))
        ids: dict[int, str] = {}
        submitted: list[str] = []
        serial = run.job.max_parallel is not None  # keeps the throttle across arrays
        for number, (name, chunk, text) in enumerate(scripts):
            (folder / name).write_text(text)
            if number == 0:  # every array of a submission asks for the same resources
                self._refuse_impossible(folder / name, chunk)
            queued_at = time.time()  # state files older than this belong to an earlier attempt
            entry = {"job": None, "offset": chunk.offset, "array": chunk.spec, "submitted": queued_at,
                     "script": str(folder / name), "by": submitter(), **pack}
            self._remember(run, entry)  # first: should freight die in sbatch, status finds the job
            crash_point("submitting")
            try:
                job_id = self._sbatch(folder / name, submitted[-1] if serial and submitted else None, submitted)
            except ConfigError:  # refused: no job exists (a timeout may have queued one)
                self._forget(run, entry)
                raise
            crash_point("submitted")
            submitted.append(job_id)
            self._record_job(run, entry, job_id)
            ids.update({row: f"{job_id}_{i - chunk.offset}" for i in chunk.indices
                        for row in (groups[i] if groups else [i])})
        return Submission(ids=ids)

    def poll(self, run) -> dict[int, TaskState]:
        """Slurm's word on tasks whose wrapper has not written a state file for this attempt."""
        states: dict[int, TaskState] = {}
        for index, element in (self._view(run) or {}).items():
            mapped = slurm_task_state(element.state)
            if mapped is None or self._speaks_for_itself(run, index, element, mapped[0]):
                continue
            state, reason = mapped
            if state is TaskState.running:  # started, but its wrapper has not said so yet
                state = TaskState.queued
            if state.finished:
                self._record_end(run, index, element, {}, *_before_start(state, reason, element))
            states[index] = state
        return states

    def is_alive(self, run, index: int, state: dict) -> bool | None:
        element = (self._view(run, not_before=float(state.get("started") or 0)) or {}).get(index)
        mapped = slurm_task_state(element.state) if element else None
        if mapped is None:
            return None
        task_state, reason = mapped
        if task_state in (TaskState.running, TaskState.queued):
            return True if task_state is TaskState.running else None  # requeued: it will say
        if (read_json(run.paths.state(index), {}) or {}).get("state") == TaskState.running.value:
            self._record_end(run, index, element, state, *_after_start(task_state, reason, element))
        return False

    def find_unrecorded(self, run) -> Submission | None:
        """Arrays that sbatch queued but whose job id freight never recorded (it was killed in
        between): found in squeue by the run's comment and the script's path, and recorded now.
        One squeue does not list was never queued, once its submitter is gone: it is dropped, and
        its tasks stay pending for `freight retry`. Finished arrays need no finding: their tasks
        have state files."""
        waiting = [entry for entry in self._entries(run) if not entry.get("job")]
        listed = squeue_scripts(run.id) if waiting else None
        if listed is None:
            return None
        found, never = sort_unrecorded(waiting, listed, "submitted")
        for entry in never:
            self._forget(run, entry)
        ids: dict[int, str] = {}
        for entry, job_id in found:
            self._record_job(run, entry, job_id)
            ids.update({row: f"{job_id}_{i}" for i in parse_array_spec(entry["array"])
                        for row in self._rows(run, entry, i + entry["offset"])})
        return Submission(ids=ids)

    def cancel(self, run) -> None:
        jobs = [array["job"] for array in self._arrays(run)]
        if jobs:  # a finished array makes scancel complain; the others are still cancelled
            _slurm(["scancel", *jobs])

    # -- internals ---------------------------------------------------------------------------

    def _plan(self, run, indices: list[int], folder: Path) -> tuple[list[tuple[str, Chunk, str]], list[list[int]]]:
        """The scripts, one per array, and with --pack the rows of each element (its number
        is what the arrays then index: line N of the pack file in `folder`)."""
        job, options, limits = run.job, slurm_options(run.job), cluster_limits()
        max_size = min(limits.max_array_size, options.max_array_size or limits.max_array_size)
        groups = pack_groups(indices, job.pack) if min(job.pack, len(indices)) > 1 else []
        pack = (folder / PACK_FILE, max(map(len, groups))) if groups else None
        chunks = plan_chunks(list(range(len(groups))) if groups else indices, max_size, limits.max_array_tasks)
        names = ["slurm.sbatch"] if len(chunks) == 1 else [f"slurm-{k}.sbatch" for k in range(len(chunks))]
        return [(name, chunk, render_script(run, job, options, chunk, pack))
                for name, chunk in zip(names, chunks)], groups

    def _script_folder(self, run, create: bool = True) -> Path:
        """scripts/slurm-1/, slurm-2/ …: one per submission, so a retry keeps the first scripts."""
        number = 1 + sum(1 for p in run.paths.scripts.glob("slurm-*") if p.is_dir())
        folder = run.paths.scripts / f"slurm-{number}"
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _refuse_impossible(self, script: Path, chunk: Chunk) -> None:
        """sbatch queues a request no node can ever meet (more CPUs or memory than any node has,
        more nodes than the partition) when the cluster does not enforce partition limits
        (EnforcePartLimits=NO, Slurm's default), and it then pends forever (PartitionConfig).
        `sbatch --test-only` on one element says so at once, in Slurm's own words."""
        first = parse_array_spec(chunk.spec)[0]
        done = _slurm(["sbatch", "--test-only", f"--array={first}", str(script)], quiet=True)
        said = one_line(done.stderr).removeprefix("allocation failure: ") if done else ""
        if done is not None and done.returncode != 0 and IMPOSSIBLE in said:
            raise ConfigError(f"Slurm cannot run this job: {said} (sbatch --test-only)", path=script,
                              fix="ask for fewer CPUs, less memory or fewer nodes than a node of the partition has")

    def _sbatch(self, script: Path, after: str | None, submitted: list[str]) -> str:
        dependency = [f"--dependency=afterany:{after}"] if after else []
        try:
            done = _slurm(["sbatch", "--parsable", *dependency, str(script)])
        except ToolTimeout as exc:  # sbatch may still queue it at the last moment: no scancel
            said = _sbatch_message(exc.said)
            if queue_full(said):
                raise FreightError(f"no job queued in {COMMAND_TIMEOUT_S} s ({QUEUE_FULL_WHY}); sbatch said: {said}",
                                   path=script, fix=QUEUE_FULL_FIX) from None
            raise
        job_id = done.stdout.strip().split(";")[0] if done.returncode == 0 else ""
        if job_id.isdigit():
            return job_id
        if submitted:  # all or nothing: the arrays already queued would run half a sweep
            _slurm(["scancel", *submitted], quiet=True)
        said = _sbatch_message(done.stderr) or f"exit {done.returncode}, no message"
        if queue_full(said):
            raise ConfigError(f"sbatch refused the job: {said} ({QUEUE_FULL_WHY})", path=script, fix=QUEUE_FULL_FIX)
        raise ConfigError(f"sbatch refused the job: {said}", path=script,
                          fix="check [targets.slurm] (partition, account, qos) and the resources asked for")

    def _store(self, run) -> RunStore:
        home = run.paths.root.parent.parent  # <home>/runs/<run-id>
        if home not in self._stores:
            self._stores[home] = RunStore(home)
        return self._stores[home]

    def _entries(self, run) -> list[dict]:
        """Every array of the run, with those whose job id is not recorded yet ("job": None)."""
        return self._store(run).get_meta(run.id, META_KEY, []) or []

    def _arrays(self, run) -> list[dict]:
        return [entry for entry in self._entries(run) if entry.get("job")]

    def _remember(self, run, array: dict) -> None:
        """Committed per array, so a submission cut short still knows what it queued."""
        self._store(run).set_meta(run.id, META_KEY, [*self._entries(run), array])
        self._views.pop(run.id, None)

    def _record_job(self, run, array: dict, job_id: str) -> None:
        entries = [{**e, "job": job_id} if e.get("script") == array["script"] and not e.get("job") else e
                   for e in self._entries(run)]
        self._store(run).set_meta(run.id, META_KEY, entries)
        self._views.pop(run.id, None)

    def _forget(self, run, array: dict) -> None:
        entries = [e for e in self._entries(run) if e.get("job") or e.get("script") != array["script"]]
        self._store(run).set_meta(run.id, META_KEY, entries)

    def _view(self, run, not_before: float = 0.0) -> dict[int, Element] | None:
        """{task index: its latest element}, one squeue (+ sacct) per SNAPSHOT_TTL_S per run.
        A snapshot older than `not_before` (a state file written since) is taken again."""
        taken, clock, view = self._views.get(run.id, (0.0, 0.0, None))
        age = time.monotonic() - taken
        if age > SNAPSHOT_TTL_S or (clock < not_before and age > 0.1):  # 0.1: clock skew
            clock, view = time.time(), self._fresh_view(run)
            self._views[run.id] = (time.monotonic(), clock, view)
        return view

    def _fresh_view(self, run) -> dict[int, Element] | None:
        arrays = self._arrays(run)
        if not arrays:
            return {}
        job_ids = [array["job"] for array in arrays]
        seen = squeue(job_ids)
        if seen is None:
            return None
        elements = {row: (f"{a['job']}_{i}", a) for a in arrays for i in parse_array_spec(a["array"])
                    for row in self._rows(run, a, i + a["offset"])}
        found = {element: (state, None) for element, state in seen.items()}
        missing = [element for element, _ in elements.values() if element not in found]
        if missing:
            found.update(self._accounting(job_ids, missing))
        return {index: Element(element, *found.get(element, (GONE, None)), array["submitted"])
                for index, (element, array) in elements.items()}

    def _rows(self, run, array: dict, number: int) -> list[int]:
        """The task indices of element `number` (its array index plus offset): itself, or with
        --pack that line of the pack file."""
        if "pack" not in array:
            return [number]
        path = run.paths.root / array["pack"]
        if path not in self._packs:
            try:
                self._packs[path] = read_pack_file(path)
            except OSError:
                return []
        lines = self._packs[path]
        return lines[number] if number < len(lines) else []

    def _accounting(self, job_ids: list[str], missing: list[str]) -> dict[str, tuple[str, int | None]]:
        """What sacct knows of elements squeue no longer lists (UNKNOWN when it cannot say)."""
        if not cluster_limits().accounting:
            return {}
        known = sacct(job_ids)
        if known is None:
            return dict.fromkeys(missing, (UNKNOWN, None))
        return {element: known[element] for element in missing if element in known}

    def _current_state_file(self, run, index: int, element: Element) -> Path | None:
        """The task's state.json when written for this attempt (after its array was queued)."""
        path = run.paths.state(index)
        try:
            return path if path.stat().st_mtime >= element.submitted else None
        except OSError:
            return None

    def _speaks_for_itself(self, run, index: int, element: Element, slurm_says: TaskState) -> bool:
        """Whether the task's state file has the say: it was written for this attempt, and it is
        not a requeue (freight.preempt) that Slurm was to run again but ended instead (cancelled
        while pending again)."""
        path = self._current_state_file(run, index, element)
        if path is None:
            return False
        if not slurm_says.finished:
            return True
        state = read_json(path, {}) or {}
        return not (state.get("state") == TaskState.queued.value and state.get("requeue_by") == "slurm")

    def _record_end(self, run, index: int, element: Element, state: dict, task_state: TaskState,
                    reason: str | None) -> None:
        """Write the final state.json the wrapper could not write, with Slurm's verdict."""
        err_log = run.paths.root / SCHED_LOGS / f"{element.job_id}.err"
        final = {**state, "state": task_state.value, "index": index, "ended": time.time(),
                 "reason": reason, "slurm_job": element.job_id, "log_tail": _tail(err_log)}
        if element.exit_code is not None:
            final["exit_code"] = element.exit_code
        write_json_atomic(run.paths.state(index), final)


def _before_start(state: TaskState, reason: str | None, element: Element) -> tuple[TaskState, str]:
    """The state and reason of a task whose array element ended before its wrapper wrote a word."""
    where = f"{SCHED_LOGS}/{element.job_id}.err"
    if state is TaskState.failed and reason == "failed":
        code = f", exit {element.exit_code}" if element.exit_code is not None else ""
        return state, f"the job script failed before the task started (Slurm FAILED{code}); see {where}"
    if state is TaskState.succeeded:
        return TaskState.lost, f"the job ended but the task never started; see {where}"
    if state is TaskState.lost and element.state == GONE:
        return state, "Slurm no longer knows the job and the task left no state (no accounting)"
    return state, f"{reason} before the task started (Slurm {element.state})"


def _after_start(state: TaskState, reason: str | None, element: Element) -> tuple[TaskState, str]:
    """The state and reason of a task whose wrapper said running, when its element has ended."""
    if state is TaskState.succeeded:  # the wrapper writes its end before it exits 0: not here
        return TaskState.lost, "the job ended but the task wrapper wrote no final state"
    if element.state == GONE:
        return state, "the job is gone from Slurm and the task wrapper wrote no final state"
    return state, f"{reason} (Slurm {element.state})"


def _sbatch_message(stderr: str) -> str:
    """sbatch's own words, one line: its `sbatch: error:` lines without the prefix."""
    lines = [line.removeprefix("sbatch: error: ").strip() for line in re.split(r"\n|(?=sbatch: )", stderr)]
    return "; ".join(line for line in lines if line and not line.startswith("sbatch: "))


def queue_full(said: str) -> bool:
    """Whether sbatch's words say the controller takes no more jobs for now: the queue holds
    MaxJobCount jobs (slurm.conf), or slurmctld is too busy (both EAGAIN to sbatch, which then
    retries for about two minutes, printing its first "sleeping and retrying" line at once)."""
    return any(sign in said for sign in QUEUE_FULL_SIGNS)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
