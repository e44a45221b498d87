"""The Grid Engine target (Son of Grid Engine 8.1, and the Univa/Altair and Open Grid Scheduler
lines that share its qsub/qstat/qacct): `freight run --target sge`.

Every submission is one array job, rendered from templates/sge.qsub.j2 and handed to
`qsub -terse`; each array task runs one row through freight's task wrapper.

- Rows map to array tasks directly when they are one contiguous block (the first submission):
  rows a..b are `-t a+1-b+1` and the script passes `--index $((SGE_TASK_ID - 1))`. Grid Engine
  arrays are `first-last:step` only, so scattered rows (a retry) are one array `-t 1-k` plus a
  rows file that the script reads (line k = row of array task k): one qsub whatever the
  pattern, where grouping runs of rows could take thousands. Arrays are split at
  `max_array_tasks` (Grid Engine's max_aj_tasks, 75,000 by default).
- --pack K: array task k runs the rows on line k-1 of a pack file (up to K rows, one after
  another; see task_pack.py), and h_rt is K times the task's.
- The run folder keeps what was submitted (sge-jobs.json: job id, time, rows, mapped or not),
  so `status` and `cancel` work from the folder alone. Each entry is written before its qsub
  and gets its job id after; one left without (freight killed in between) is found again by
  job name and script (`find_unrecorded`), so nothing is submitted twice.
- Preemption: "USR1@N" becomes s_rt (SIGUSR1 N s before the limit), requeue `-r y`; the task
  wrapper exits 99 to have Grid Engine run a requeued task again (freight.preempt).
- Status: the task state files first (the store); then one `qstat -xml -u <me>` snapshot,
  shared by poll and is_alive for a second. A task that left Grid Engine without a final state
  file gets the scheduler's verdict written to its state file, from the cancel request, the
  accounting (one `qacct -j <job name>` for the whole run, only when needed) and whether its job
  script started (its log in sched-logs/): killed by qdel, h_rt, failed before starting, or
  deleted while pending. A task gone with no evidence is left for the store to call lost.
- No -V: jobs get the submitter's PATH (SGE_O_PATH) and nothing else of the login session.
"""

from __future__ import annotations

import math
import os
import pwd
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from freight.errors import ConfigError, FreightError, MissingToolError
from freight.fsutil import read_json, write_json_atomic
from freight.preempt import parse_signal
from freight.sched.arrayjobs import flag_lines
from freight.sched.arrayjobs import load_options as load_array_options
from freight.sched.base import Capabilities, Submission, refuse_unsupported
from freight.sched.batch import (
    Range, consecutive_ranges, crash_point, expand_ranges, in_ranges, one_line, parse_ranges, run_tool,
    sort_unrecorded, submitter,
)
from freight.sched.render import render_template
from freight.spec.state import TaskState
from freight.task import DEFAULT_KILL_GRACE_S, log_tail
from freight.task_pack import pack_file_text, pack_groups

SUBMISSIONS = "sge-jobs.json"
CANCEL_REQUEST = "sge-cancel.json"
LOG_DIR = "sched-logs"
SNAPSHOT_MAX_AGE_S = 1.0
CLOCK_TOLERANCE_S = 2.0  # a state file older than its submission by more is an earlier attempt's
H_RT_MARGIN_S = int(DEFAULT_KILL_GRACE_S) + 20  # the wrapper's own limit and grace go first
FIX_OPTIONS = ("check [targets.sge] in freight.toml (queue, pe, mem_resource, gpu_resource, "
               "qsub_args) against `qconf -sql`, `qconf -spl` and `qconf -sc`")
_QDEL_FINE = re.compile(r"does not exist|has deleted|has registered|for deletion")  # finished: fine
_TOKEN = re.compile(r"^[^\s'\"\\#]+$")  # one word in a `#$` line: no quoting needed or possible


class SgeOptions(BaseModel):
    """`[targets.sge]` in freight.toml (and the matching command-line flags)."""

    model_config = ConfigDict(extra="forbid")

    queue: str | None = None  # -q; a list ("a.q,b.q") or queue@host works too
    gpu_queue: str | None = None  # -q of tasks that ask for GPUs (Notre Dame's "gpu")
    project: str | None = None  # -P
    account: str | None = None  # -A
    pe: str = "smp"  # parallel environment for cpus > 1: -pe <pe> <cpus>
    # A parallel environment that spans hosts (allocation_rule $round_robin or $fixed, with
    # control_slaves TRUE for `qrsh -inherit`), for --nodes N --torchrun: -pe <node_pe> <N x cpus>
    node_pe: str | None = None
    mem_resource: str = "h_vmem"  # per-slot memory complex: h_vmem, mem_free, m_mem_free, ...
    gpu_resource: str = "gpu"  # GPU complex: gpu (-l gpu=N), Notre Dame's gpu_card, ...
    qsub_args: list[str] = Field(default_factory=list)  # extra `#$` lines, e.g. "-m ea"
    notify: bool = False  # -notify: SIGUSR1/SIGUSR2 ahead of suspend/kill, forwarded to the program
    verify: bool = True  # -w e: refuse a request no queue can ever satisfy, at submit time
    max_array_tasks: int = Field(75000, ge=1)

    @field_validator("queue", "gpu_queue", "project", "account", "pe", "node_pe", "mem_resource", "gpu_resource")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        if value is not None and not _TOKEN.match(value):
            raise ValueError(f"{value!r} must be one word without quotes, spaces or '#'")
        return value

    @field_validator("qsub_args")
    @classmethod
    def _flag_lines(cls, lines: list[str]) -> list[str]:
        return flag_lines(lines, "qsub", "-m ea")


def load_options(options: dict[str, Any]) -> SgeOptions:
    return load_array_options(SgeOptions, "sge", options, FIX_OPTIONS)


# -- rendering ----------------------------------------------------------------------------------


@dataclass
class Chunk:
    """One array job: these rows, as array tasks first..last (mapped: through a rows file, or
    with pack > 1 a pack file whose line k-1 holds the rows of array task k)."""

    indices: Sequence[int]  # a range for one block of rows: memory does not grow with the sweep
    mapped: bool
    pack: int = 1

    @property
    def task_range(self) -> tuple[int, int]:
        if self.mapped:
            return 1, math.ceil(len(self.indices) / self.pack)
        return self.indices[0] + 1, self.indices[-1] + 1

    def task_of(self, position: int) -> int:
        """The array task that runs the row at this position of `indices` (from 0)."""
        return position // self.pack + 1 if self.mapped else self.indices[position] + 1


def plan_chunks(indices: Sequence[int], max_tasks: int, pack: int = 1) -> list[Chunk]:
    if pack > 1:
        indices = sorted(set(indices))  # the order pack_groups cuts them in
    mapped = pack > 1 or len(consecutive_ranges(indices)) > 1
    if indices and not mapped:
        indices = range(indices[0], indices[-1] + 1)  # one block: its slices are ranges too
    size = max_tasks * pack
    return [Chunk(indices[i:i + size], mapped, pack) for i in range(0, len(indices), size)]


def job_name(run_id: str) -> str:
    """The run id, which names every array job of the run (qstat, qacct -j). Grid Engine
    refuses names that start with a digit."""
    return run_id if run_id[:1].isalpha() else f"f{run_id}"


def path_options(paths: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(`#$` lines, qsub command-line words) for options that take a path. Grid Engine reads
    "..." in a `#$` line but drops every quote character inside, so a path holding a quote or
    a backslash goes on qsub's command line instead, where it arrives literally."""
    lines, argv = [], []
    for flag, path in paths:
        if "\n" in path or "\r" in path:
            raise ConfigError(f"path {path!r} has a line break, which Grid Engine cannot take",
                              fix="rename the folder")
        if _TOKEN.match(path):
            lines.append(f"{flag} {path}")
        elif not set("'\"\\") & set(path):
            lines.append(f'{flag} "{path}"')
        else:
            argv += [flag, path]
    return lines, argv


def h_rt(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def resource_context(job, opts: SgeOptions, per_element: int = 1) -> dict[str, Any]:
    """The `#$` resource lines; an array task that runs `per_element` rows (--pack) gets that
    many times a row's h_rt."""
    res = job.resources
    slots = res.cpus if res.cpus > 1 else 0
    mem_per_slot = math.ceil(res.mem_mb / res.cpus) if res.mem_mb else 0
    return {
        "queue": opts.gpu_queue if res.gpus and opts.gpu_queue else opts.queue,
        "project": opts.project, "account": opts.account,
        "h_rt": h_rt(per_element * (res.time_s + H_RT_MARGIN_S)) if res.time_s else None,
        "pe": opts.node_pe if res.nodes > 1 else opts.pe, "pe_slots": res.nodes * res.cpus if res.nodes > 1 else slots,
        "mem": f"{opts.mem_resource}={mem_per_slot}M" if mem_per_slot else None,
        "gpus": f"{opts.gpu_resource}={res.gpus}" if res.gpus else None,
        "notify": opts.notify, "verify": opts.verify, "extra": opts.qsub_args,
        "throttle": job.max_parallel,
        "s_rt": soft_limit(job) if per_element == 1 else None, "rerun": job.preemption.requeue,
    }


def soft_limit(job) -> str | None:
    """s_rt for a preemption signal "USR1@N": Grid Engine sends SIGUSR1 when a job passes its
    s_rt, which is the only signal it can aim at a chosen time. (-notify cannot: it sends USR1
    before a suspend and USR2 at h_rt or qdel, then kills the job the queue's `notify` seconds
    later.) Any other signal the task wrapper sends itself, on its own timer."""
    signum, lead = parse_signal(job.preemption.signal)
    time_s = job.resources.time_s
    ahead = signum is not None and signum.name == "SIGUSR1" and time_s and time_s > lead
    return h_rt(time_s - lead) if ahead else None


# -- what Grid Engine says ------------------------------------------------------------------------


def parse_qstat_xml(text: str) -> dict[str, list[tuple[list[Range], str]]]:
    """`qstat -xml` -> {job id: [(array task ranges, state letters), ...]}. A job that is not an
    array has the task range [(0, 0, 1)]."""
    jobs: dict[str, list[tuple[list[Range], str]]] = {}
    for entry in ET.fromstring(text).iter("job_list"):
        number, state = entry.findtext("JB_job_number", ""), entry.findtext("state", "")
        tasks = entry.findtext("tasks")
        ranges = parse_ranges(tasks) if tasks else [(0, 0, 1)]
        jobs.setdefault(number.strip(), []).append((ranges, state.strip()))
    return jobs


def parse_qacct(text: str) -> dict[tuple[str, int], dict[str, str]]:
    """`qacct -j` -> {(job id, task id): {"failed": "100 : assumedly after job", "exit_status": "137"}}."""
    records: dict[tuple[str, int], dict[str, str]] = {}
    for block in re.split(r"^={10,}\s*$", text, flags=re.M):
        fields = {key: value.strip() for key, _, value in (line.strip().partition(" ") for line in
                  block.splitlines()) if key}
        if "jobnumber" in fields:
            task = fields.get("taskid", "undefined")
            key = (fields["jobnumber"], int(task) if task.isdigit() else 0)
            records[key] = {"failed": fields.get("failed", "0"),
                            "exit_status": (fields.get("exit_status", "").split() or [""])[0]}
    return records


def parse_error_reasons(text: str) -> dict[int, str]:
    """`qstat -j ID` -> {array task id: why it is in error state (Eqw)}."""
    reasons = {}
    for match in re.finditer(r"^error reason\s+(\d+):\s*(.*)$", text, flags=re.M):
        reasons[int(match.group(1))] = re.sub(r"^\S+ \S+ \[[^]]*\]: ", "", match.group(2).strip())
    return reasons


# A queue instance line of `qstat -f`: name@host, qtype, resv/used/tot, load, arch, states
_QUEUE_LINE = re.compile(r"^(\S+@\S+)\s+\S+\s+\d+/\d+/\d+\s+\S+\s+\S+\s+([a-zA-Z]+)\s*$")


def parse_queue_errors(text: str) -> dict[str, str]:
    """`qstat -f -qs E -explain E` -> {queue instance in error state (E): why, the first of the
    indented messages under it ("queue all.q marked QERROR as result of job 7's failure at host
    vm"), or "" when none}."""
    errors: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = _QUEUE_LINE.match(line)
        if match:
            current = match.group(1) if "E" in match.group(2) else None
            if current:
                errors[current] = ""
        elif current and line[:1].isspace():
            errors[current] = errors[current] or line.strip()
        else:  # the separator, the pending jobs' banner
            current = None
    return errors


def queue_error_note(errors: dict[str, str]) -> str | None:
    """One line for `freight status` on why pending tasks do not start, or None."""
    if not errors:
        return None
    queue, why = next(iter(errors.items()))
    more = f" (and {len(errors) - 1} more queue instance(s) in error state)" if len(errors) > 1 else ""
    return (f"queue {queue} is in error state: {why or 'qstat gives no reason'}; "
            f"fix: qmod -c '{queue}' as an SGE manager{more}")


def task_state(letters: str) -> TaskState:
    """qstat's state letters -> freight's state, for a task with no state file of its own.
    Running is the task wrapper's word (its state file): until the wrapper has written it, a
    task Grid Engine runs (r), sends (t) or suspends (s, S, T) still counts as queued, so the
    store keeps asking for it."""
    if "E" in letters:
        return TaskState.failed  # Eqw: it will not run until someone clears the error
    if "d" in letters:
        return TaskState.cancelled  # being deleted
    return TaskState.queued


def verdict(record: dict[str, str] | None, *, started: bool, cancel_requested: bool,
            job_script_ran: bool) -> tuple[TaskState, str, int | None] | None:
    """Why a task left Grid Engine without writing a final state: (state, reason, exit code),
    or None when nothing tells (the store then calls it lost)."""
    failed = (record or {}).get("failed", "0").strip()
    code = _int_or_none((record or {}).get("exit_status"))
    if failed.startswith("37"):
        return TaskState.failed, f"timeout: Grid Engine's h_rt limit (qacct failed {failed})", code
    if cancel_requested:
        return TaskState.cancelled, "cancelled (freight cancel)", code
    if started and failed.startswith("100") and code == 137:
        return TaskState.cancelled, f"killed by Grid Engine, by qdel or an admin (qacct failed {failed})", code
    if started and failed.split()[:1] in (["19"], ["21"]):  # its shepherd died with the node or execd
        return TaskState.lost, f"node failure: the host or its execution daemon went down (qacct failed {failed})", code
    if started:
        return (TaskState.failed, f"the task wrapper ended without a final state (qacct failed "
                f"{failed}, exit_status {code})", code) if record else None
    if record or job_script_ran:
        why = f" (qacct failed {failed}, exit_status {code})" if record else ""
        return TaskState.failed, f"the job script failed before the task started{why}", code
    return TaskState.cancelled, "deleted from the Grid Engine queue before it started", None


def parse_qstat_j(text: str) -> dict[str, str]:
    """`qstat -j NAME` -> {script_file: job_number} for every job of that name it lists."""
    found, number = {}, ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "job_number":
            number = value.strip()
        elif key.strip() == "script_file" and number:
            found[value.strip()] = number
    return found


def qstat_scripts(name: str) -> dict[str, str] | None:
    """{script: job id} of the pending or running jobs called `name`; None when qstat failed."""
    try:
        done = run_tool(["qstat", "-j", name], check=False, timeout=60)
    except FreightError:
        return None
    if done.returncode != 0:  # none of that name: "Following jobs do not exist"
        return {} if "do not exist" in done.stderr + done.stdout else None
    return parse_qstat_j(done.stdout)


def entry_chunk(entry: dict) -> Chunk:
    """The Chunk an sge-jobs.json entry submitted."""
    return Chunk(expand_ranges((a, b, 1) for a, b in entry["rows"]), entry["mapped"], entry.get("pack", 1))


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.strip().lstrip("-").isdigit() else None


@dataclass
class Snapshot:
    """One `qstat` answer; `taken` is the time just before it was asked."""

    taken: float
    jobs: dict[str, list[tuple[list[Range], str]]]
    accounting: dict[str, dict[tuple[str, int], dict[str, str]]] = field(default_factory=dict)
    error_reasons: dict[str, dict[int, str]] = field(default_factory=dict)
    queue_note: str | None = None  # why pending tasks do not start (a queue in error state)
    queues_asked: bool = False

    def state(self, job: str, task: int) -> str | None:
        for ranges, letters in self.jobs.get(job, ()):
            if in_ranges(task, ranges) or ranges == [(0, 0, 1)]:
                return letters
        return None


@dataclass(frozen=True)
class Location:
    """Where a row went last: array job, array task, when, and the how-many-th attempt."""

    job: str
    task: int
    submitted: float
    attempt: int


# -- the target ---------------------------------------------------------------------------------


class SgeTarget:
    name = "sge"
    capabilities = Capabilities(gpu_types=False, multi_node=False, requeue=True, launchers=("torchrun",))

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._snapshot_at = 0.0
        self._locations: dict[str, tuple[int, dict[int, Location]]] = {}
        self._settled: dict[str, set[int]] = {}  # rows whose current attempt has a final state
        self._why_pending: dict[str, str | None] = {}  # run id -> why its pending tasks wait

    def check(self, job) -> None:
        refuse_unsupported(self, job)
        options = load_options(job.target_options)
        if job.resources.nodes > 1 and not options.node_pe:
            raise ConfigError("several nodes on Grid Engine need a parallel environment that spans hosts",
                              fix='set [targets.sge] node_pe = "<pe>" (`qconf -spl` lists them; '
                                  'allocation_rule $round_robin or $fixed, control_slaves TRUE)')
        if shutil.which("qsub") is None:
            raise MissingToolError("qsub is not installed here (needed for --target sge)",
                                   fix="run freight on the cluster's login node, or start a "
                                   "Grid Engine (ci/sge.sh up)")

    def render(self, run, indices: list[int]) -> dict[str, str]:
        return {name: text for _, _, files in self._plan(run, indices) for name, text in files.items()}

    def submit(self, run, indices: list[int]) -> Submission:
        self._forget_previous(run, indices)
        (run.paths.root / LOG_DIR).mkdir(parents=True, exist_ok=True)
        ids, submitted = {}, []
        try:
            for name, chunk, files in self._plan(run, indices):
                for file_name, text in files.items():
                    (run.paths.scripts / file_name).write_text(text, encoding="utf-8")
                script = run.paths.scripts / f"{name}.sh"
                self._remember(run, chunk, script)  # first: should freight die in qsub, status finds the job
                crash_point("submitting")
                try:
                    job_id = self._qsub(run, script)
                except ConfigError:  # refused: no job exists
                    self._record_job(run, script, None)
                    raise
                crash_point("submitted")
                submitted.append(job_id)
                self._record_job(run, script, job_id)
                ids.update({index: f"{job_id}.{chunk.task_of(k)}" for k, index in enumerate(chunk.indices)})
        except Exception:
            if submitted:  # all or nothing: a half-submitted sweep would confuse the retry
                run_tool(["qdel", *submitted], check=False)
            raise
        self._snapshot = None
        return Submission(ids=ids, meta={"sge_job_ids": ",".join(self._job_ids(run))})

    def poll(self, run) -> dict[int, TaskState]:
        """Tasks without a current state file: queued while Grid Engine holds them. One that is
        in error (Eqw), being deleted, or gone gets the scheduler's verdict written to its state
        file instead, which the store reads, reason and all, on its next refresh."""
        locations = self._locate(run)
        snapshot = self._take_snapshot()
        if snapshot is None:
            return {}
        states, settled = {}, self._settled.setdefault(run.id, set())
        pending = False
        for index, where in locations.items():
            if index in settled:
                continue
            current = self._current_state(run, index, where)
            if current is not None and current.get("requeue_by") != "sge":  # a requeue: Grid Engine's to run
                if _finished(current):
                    settled.add(index)  # this attempt's final word: not read again
                continue
            letters = snapshot.state(where.job, where.task)
            if letters is not None and task_state(letters) is TaskState.queued:
                states[index] = TaskState.queued
                pending = pending or letters.endswith("qw")
            elif letters is not None:
                self._write_verdict(run, index, where, None, self._stuck(run, where, letters, snapshot))
            elif snapshot.taken > where.submitted:
                self._gone(run, index, where, snapshot, None)
        self._why_pending[run.id] = self._queue_errors(snapshot) if pending else None
        return states

    def why_pending(self, run) -> str | None:
        """Why this run's pending tasks do not start, as the last poll found: a queue instance in
        error state (E), which Grid Engine leaves until a manager clears it."""
        return self._why_pending.get(run.id)

    def _queue_errors(self, snapshot: Snapshot) -> str | None:
        """At most one `qstat -f -qs E -explain E` per snapshot, only while tasks pend."""
        if not snapshot.queues_asked:
            snapshot.queues_asked = True
            text = _ask(["qstat", "-f", "-qs", "E", "-explain", "E"])
            snapshot.queue_note = queue_error_note(parse_queue_errors(text or ""))
        return snapshot.queue_note

    def _stuck(self, run, where: Location, letters: str, snapshot: Snapshot) -> tuple[TaskState, str, None]:
        """The verdict on a task Grid Engine holds but will not run: in error, or being deleted."""
        if task_state(letters) is TaskState.failed:
            return self._error_state(run, where, snapshot)
        return verdict(None, started=False, job_script_ran=False,
                       cancel_requested=self._cancel_requested(run, where))

    def is_alive(self, run, index: int, state: dict) -> bool | None:
        where = self._locate(run).get(index)
        snapshot = self._take_snapshot()
        if where is None or snapshot is None or snapshot.taken <= where.submitted:
            return None
        if snapshot.state(where.job, where.task) is not None:
            return True
        self._gone(run, index, where, snapshot, state)
        return False

    def cancel(self, run) -> None:
        write_json_atomic(run.paths.root / CANCEL_REQUEST, {"time": time.time()})
        jobs = self._job_ids(run)
        if jobs:
            done = run_tool(["qdel", *jobs], check=False)
            said = (done.stdout + done.stderr).splitlines()
            problems = [line for line in said if line.strip() and not _QDEL_FINE.search(line)]
            if done.returncode != 0 and problems:
                raise ConfigError(f"qdel failed: {one_line(chr(10).join(problems))}")
        self._snapshot = None

    # -- submitting ---------------------------------------------------------------------------

    def _plan(self, run, indices: list[int]) -> list[tuple[str, Chunk, dict[str, str]]]:
        job = run.job
        opts = load_options(job.target_options)
        path_lines, argv = _path_options(run)
        per_element = min(job.pack, len(indices))  # rows per array task (--pack)
        base = {
            "run_id": run.id, "job_name": job_name(run.id), "python": sys.executable,  # has freight
            "run_dir": str(run.paths.root), "path_lines": path_lines, "qsub_argv": argv,
            **resource_context(job, opts, per_element),
        }
        plan, number = [], _next_script_number(run.paths.scripts)
        for n, chunk in enumerate(plan_chunks(indices, opts.max_array_tasks, per_element), number):
            name = f"sge-{n}"
            rows = run.paths.scripts / f"{name}.rows" if chunk.mapped and chunk.pack == 1 else None
            pack = run.paths.scripts / f"{name}.pack" if chunk.pack > 1 else None
            first, last = chunk.task_range
            script = render_template("sge.qsub.j2", **base, count=len(chunk.indices), first=first,
                                     last=last, rows_file=str(rows) if rows else "",
                                     pack_file=str(pack) if pack else "", per_element=chunk.pack)
            files = {f"{name}.sh": script}
            if rows:
                files[rows.name] = "".join(f"{index}\n" for index in chunk.indices)
            if pack:
                files[pack.name] = pack_file_text(pack_groups(chunk.indices, chunk.pack))
            plan.append((name, chunk, files))
        return plan

    def _qsub(self, run, script: Path) -> str:
        done = run_tool(["qsub", "-terse", *_path_options(run)[1], str(script)], check=False)
        if done.returncode != 0:
            said = one_line(done.stderr or done.stdout).removesuffix(" Exiting.")
            raise ConfigError(f"Grid Engine refused the job: {said}", fix=FIX_OPTIONS, path=script)
        return done.stdout.strip().split(".", 1)[0]

    def _remember(self, run, chunk: Chunk, script: Path) -> None:
        """Written before qsub, without a job id: `_record_job` fills it in after."""
        path = run.paths.root / SUBMISSIONS
        entry = {"job": None, "script": str(script), "by": submitter(), "time": time.time(), "mapped": chunk.mapped,
                 "rows": consecutive_ranges(chunk.indices), **({"pack": chunk.pack} if chunk.pack > 1 else {})}
        write_json_atomic(path, [*(read_json(path, []) or []), entry])

    def _record_job(self, run, script: Path | str, job_id: str | None) -> None:
        """The job id of the array submitted from `script`; None drops the entry (never queued)."""
        path = run.paths.root / SUBMISSIONS
        entries = []
        for entry in read_json(path, []) or []:
            if entry.get("job") or entry.get("script") != str(script):
                entries.append(entry)
            elif job_id is not None:
                entries.append({**entry, "job": job_id})
        write_json_atomic(path, entries)

    def find_unrecorded(self, run) -> Submission | None:
        """Arrays that qsub queued but whose job id freight never recorded (it was killed in
        between): found by the run's job name and the script's path (`qstat -j NAME`), and
        recorded now. One Grid Engine does not list was never queued, once its submitter is
        gone: it is dropped, and its rows stay pending for `freight retry`. Finished arrays
        need no finding: their tasks have state files."""
        waiting = [e for e in read_json(run.paths.root / SUBMISSIONS, []) or [] if not e.get("job")]
        listed = qstat_scripts(job_name(run.id)) if waiting else None
        if listed is None:
            return None
        found, never = sort_unrecorded(waiting, listed, "time")
        for entry in never:
            self._record_job(run, entry["script"], None)
        ids: dict[int, str] = {}
        for entry, job_id in found:
            self._record_job(run, entry["script"], job_id)
            chunk = entry_chunk(entry)
            ids.update({index: f"{job_id}.{chunk.task_of(k)}" for k, index in enumerate(chunk.indices)})
        self._snapshot = None
        return Submission(ids=ids)

    def _forget_previous(self, run, indices: list[int]) -> None:
        """Delete earlier array tasks of these rows still in Grid Engine (an Eqw job a retry
        replaces), so that no row can run twice."""
        locations = self._locate(run)
        snapshot = self._take_snapshot(fresh=True) if locations else None
        if snapshot is None:
            return
        stale = [f"{w.job}.{w.task}" for i in indices if (w := locations.get(i))
                 and snapshot.state(w.job, w.task) is not None]
        if stale:
            run_tool(["qdel", *stale], check=False)

    # -- following ------------------------------------------------------------------------------

    def _locate(self, run) -> dict[int, Location]:
        """Row -> where it was submitted last, from sge-jobs.json (cached while it is unchanged)."""
        path = run.paths.root / SUBMISSIONS
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return {}
        cached = self._locations.get(run.id)
        if cached and cached[0] == stamp:
            return cached[1]
        locations: dict[int, Location] = {}
        for entry in read_json(path, []) or []:
            if not entry.get("job"):  # qsub not answered yet, or freight killed meanwhile
                continue
            chunk = entry_chunk(entry)
            for position, index in enumerate(chunk.indices):
                task = chunk.task_of(position)
                attempt = locations[index].attempt + 1 if index in locations else 1
                locations[index] = Location(str(entry["job"]), task, float(entry["time"]), attempt)
        self._locations[run.id] = (stamp, locations)
        self._settled.pop(run.id, None)
        return locations

    def _job_ids(self, run) -> list[str]:
        return sorted({w.job for w in self._locate(run).values()}, key=int)

    def _take_snapshot(self, fresh: bool = False) -> Snapshot | None:
        """This user's jobs in Grid Engine, asked at most once a second; None when qstat fails
        (qmaster down): then the state files speak alone."""
        if not fresh and self._snapshot and time.monotonic() - self._snapshot_at <= SNAPSHOT_MAX_AGE_S:
            return self._snapshot
        taken = time.time()
        text = _ask(["qstat", "-xml", "-u", pwd.getpwuid(os.getuid()).pw_name])
        try:
            self._snapshot = Snapshot(taken, parse_qstat_xml(text)) if text is not None else None
        except (ET.ParseError, ValueError):
            self._snapshot = None
        if self._snapshot is None:
            return None
        self._snapshot_at = time.monotonic()
        return self._snapshot

    def _current_state(self, run, index: int, where: Location) -> dict | None:
        """This attempt's state file: one written since the row was last submitted."""
        path = run.paths.state(index)
        data = read_json(path, None) if path.exists() else None
        if not isinstance(data, dict):
            return None
        written = data.get("started") or data.get("ended") or 0
        return data if written >= where.submitted - CLOCK_TOLERANCE_S else None

    def _gone(self, run, index: int, where: Location, snapshot: Snapshot, running: dict | None) -> None:
        """A task no longer in Grid Engine and without its own final state (unless it wrote one
        just now): the scheduler's verdict goes to its state file, when there is evidence."""
        current = self._current_state(run, index, where)
        if current and _finished(current):
            return
        found = verdict(self._accounting(run, snapshot).get((where.job, where.task)),
                        started=running is not None or current is not None,
                        cancel_requested=self._cancel_requested(run, where),
                        job_script_ran=self._log(run, where, "e").exists())
        if found is not None:
            self._write_verdict(run, index, where, current or running, found)

    def _accounting(self, run, snapshot: Snapshot) -> dict[tuple[str, int], dict[str, str]]:
        """Every accounting record of the run's jobs: one qacct call per snapshot."""
        if run.id not in snapshot.accounting:  # no qacct or no accounting: the other evidence decides
            snapshot.accounting[run.id] = parse_qacct(_ask(["qacct", "-j", job_name(run.id)], 300) or "")
        return snapshot.accounting[run.id]

    def _error_state(self, run, where: Location, snapshot: Snapshot) -> tuple[TaskState, str, None]:
        if where.job not in snapshot.error_reasons:
            snapshot.error_reasons[where.job] = parse_error_reasons(_ask(["qstat", "-j", where.job]) or "")
        why = snapshot.error_reasons[where.job].get(where.task, "job error")
        return TaskState.failed, f"Eqw: {why} (fix it, then `freight retry`)", None

    def _cancel_requested(self, run, where: Location) -> bool:
        request = read_json(run.paths.root / CANCEL_REQUEST, {}) or {}
        return float(request.get("time", 0)) >= where.submitted

    def _log(self, run, where: Location, stream: str) -> Path:
        """Grid Engine's own output file of an array task: <name>.<o|e><job>.<task>."""
        return run.paths.root / LOG_DIR / f"{job_name(run.id)}.{stream}{where.job}.{where.task}"

    def _write_verdict(self, run, index: int, where: Location, previous: dict | None,
                       found: tuple[TaskState, str, int | None]) -> None:
        state, reason, code = found
        data = dict(previous or {"index": index, "attempt": where.attempt, "started": None})
        tail = log_tail((self._log(run, where, "e"),), (0,)) if previous is None else data.get("log_tail")
        data.update(state=state.value, reason=reason, exit_code=code, ended=time.time(),
                    log_tail=tail or "", verdict_by="sge")
        write_json_atomic(run.paths.state(index), data)


def _ask(argv: list[str], timeout: float = 60) -> str | None:
    """What a status command printed, or None when it failed, hung or is missing: following a
    run degrades to the state files alone rather than failing."""
    try:
        done = run_tool(argv, check=False, timeout=timeout)
    except FreightError:
        return None
    return done.stdout if done.returncode == 0 else None


def _finished(state: dict) -> bool:
    return state.get("state") in {s.value for s in TaskState if s.finished}


def _path_options(run) -> tuple[list[str], list[str]]:
    """-wd (the job's workdir) and -o/-e (Grid Engine's own logs, in the run folder)."""
    logs = str(run.paths.root / LOG_DIR)
    return path_options([("-wd", run.job.workdir), ("-o", logs), ("-e", logs)])


def _next_script_number(scripts: Path) -> int:
    numbers = [int(m.group(1)) for p in scripts.glob("sge-*.sh") if (m := re.match(r"sge-(\d+)\.sh$", p.name))]
    return max(numbers, default=0) + 1
