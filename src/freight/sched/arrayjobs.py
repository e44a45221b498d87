"""What the PBS, LSF and Kubernetes targets share: cutting rows into array jobs, the record of
what was submitted (one JSON file in the run folder, so `status` and `cancel` work from the
folder alone), scheduler options read from `[targets.<name>]`, and the verdict on a task that
left its scheduler without writing a final state file.

Rows map to array elements in one of two ways, the same for every scheduler:
- a contiguous block (a first submission): array element `base + k` runs row `first + k`, the
  offset written into the job script, so every array starts at the scheduler's first index and
  stays under its maximum array size (LSF caps the index itself, not only the count);
- scattered rows (a retry): element `base + k` runs the row on line k+1 of a rows file.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from freight.errors import ConfigError, FreightError
from freight.fsutil import read_json, write_json_atomic
from freight.sched.base import Submission
from freight.sched.batch import consecutive_ranges, expand_ranges, run_tool
from freight.sched.common import load_target_options
from freight.spec.state import TaskState

Options = TypeVar("Options", bound=BaseModel)
TOKEN = re.compile(r"^[A-Za-z0-9_@%+=:,./^-]+$")  # a directive word that needs no quoting anywhere
LOG_DIR = "sched-logs"


def load_options(model: type[Options], target: str, options: dict[str, Any], fix: str) -> Options:
    """`[targets.<target>]` as the target's pydantic model; a one-line ConfigError otherwise."""
    return load_target_options(model, options, target, fix)


def refuse_unsupported_extras(target, job) -> None:
    """What these targets cannot do beyond base.refuse_unsupported: --pack, and requeue after
    preemption (the wrapper's own warning signal and checkpoint hook still work)."""
    if job.pack > 1:
        raise ConfigError(f"target {target.name!r} cannot pack tasks (--pack)", fix="drop --pack, or use --target slurm or sge")
    if job.preemption.requeue and not target.capabilities.requeue:
        raise ConfigError(f"target {target.name!r} cannot requeue a preempted task",
                          fix="drop --requeue (`freight retry` reruns what failed)")


def flag_lines(lines: list[str], tool: str, example: str) -> list[str]:
    """For validators: extra directive lines, each one line of the submit command's options."""
    for line in lines:
        if "\n" in line or "\r" in line or not line.strip().startswith("-"):
            raise ValueError(f"{line!r} must be {tool} options on one line, like \"{example}\"")
    return [line.strip() for line in lines]


def one_word(value: str | None) -> str | None:
    """For validators: a queue, project or account name goes into a directive as is."""
    if value is not None and not TOKEN.match(value):
        raise ValueError(f"{value!r} must be one word without quotes, spaces or '#'")
    return value


@dataclass
class Chunk:
    """One array job: these rows, as array elements base..base+count-1."""

    indices: Sequence[int]  # a range for contiguous rows
    mapped: bool  # through a rows file (scattered rows)
    number: int  # the script's number in the run folder: <target>-<number>.sh

    @property
    def count(self) -> int:
        return len(self.indices)

    @property
    def offset(self) -> int:
        """Row of the first element (contiguous chunks)."""
        return self.indices[0]


def plan_chunks(indices: Sequence[int], max_size: int, first_number: int = 1) -> list[Chunk]:
    """Contiguous rows become ranges (memory does not grow with the sweep); scattered rows,
    which go into rows files anyway, lists."""
    mapped = len(consecutive_ranges(indices)) > 1
    starts = range(0, len(indices), max_size)
    if mapped:
        return [Chunk(list(indices[i:i + max_size]), True, first_number + n) for n, i in enumerate(starts)]
    first = indices[0] if indices else 0
    return [Chunk(range(first + i, first + min(i + max_size, len(indices))), False, first_number + n)
            for n, i in enumerate(starts)]


def next_number(scripts: Path, prefix: str) -> int:
    """The number after the highest `<prefix>-<n>.*` in the scripts folder (a retry adds files)."""
    pattern = re.compile(rf"{re.escape(prefix)}-(\d+)\.")
    numbers = [int(m.group(1)) for p in scripts.glob(f"{prefix}-*") if (m := pattern.match(p.name))]
    return max(numbers, default=0) + 1


def rows_file_text(chunk: Chunk) -> str:
    return "".join(f"{index}\n" for index in chunk.indices)


def path_options(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(directive lines, submit-command words) for options that take a path: a plain path goes
    into the script; one with spaces or quotes goes on the command line, where it arrives
    literally (directive parsers differ in how, or whether, they unquote)."""
    lines, argv = [], []
    for flag, path in pairs:
        if "\n" in path or "\r" in path:
            raise ConfigError(f"path {path!r} has a line break, which no scheduler can take", fix="rename the folder")
        if TOKEN.match(path):
            lines.append(f"{flag} {path}")
        else:
            argv += [flag, path]
    return lines, argv


# -- what was submitted ----------------------------------------------------------------------------


class SubmissionLog:
    """`<target>-jobs.json` in the run folder: one entry per array job, written before the
    scheduler is asked (job None) and given its id after."""

    def __init__(self, run_dir: Path, target: str) -> None:
        self.path = run_dir / f"{target}-jobs.json"

    def entries(self) -> list[dict]:
        return read_json(self.path, []) or []

    def remember(self, chunk: Chunk, script: Path, **extra: Any) -> None:
        entry = {"job": None, "script": str(script), "time": time.time(), "mapped": chunk.mapped,
                 "rows": consecutive_ranges(chunk.indices), **extra}
        write_json_atomic(self.path, [*self.entries(), entry])

    def record(self, script: Path, job_id: str | None) -> None:
        """The job id of the array submitted from `script`; None drops the entry (never queued)."""
        kept = []
        for entry in self.entries():
            if entry.get("job") or entry.get("script") != str(script):
                kept.append(entry)
            elif job_id is not None:
                kept.append({**entry, "job": job_id})
        write_json_atomic(self.path, kept)

    def request_cancel(self) -> None:
        """Written before the scheduler is asked to cancel: a task it then drops was cancelled."""
        write_json_atomic(self.path.with_name(self.path.name.replace("-jobs", "-cancel")), {"time": time.time()})

    def cancelled_since(self, when: float) -> bool:
        request = read_json(self.path.with_name(self.path.name.replace("-jobs", "-cancel")), {}) or {}
        return float(request.get("time", 0)) >= when

    def job_ids(self) -> list[str]:
        return list(dict.fromkeys(str(e["job"]) for e in self.entries() if e.get("job")))

    def locate(self) -> dict[int, Location]:
        """Row -> where it was submitted last (array job id, element number from 0, when)."""
        found: dict[int, Location] = {}
        for entry in self.entries():
            if not entry.get("job"):
                continue
            rows = expand_ranges((a, b, 1) for a, b in entry["rows"])
            for position, index in enumerate(rows):
                found[index] = Location(str(entry["job"]), position, float(entry["time"]), len(rows))
        return found


@dataclass(frozen=True)
class Location:
    job: str  # the id the scheduler printed for the whole array
    element: int  # 0-based position in the array (the scheduler's index minus its base)
    submitted: float
    size: int  # elements in that array (1: submitted as a plain job, not an array)


# -- following -------------------------------------------------------------------------------------


def ask(argv: list[str], timeout: float = 60) -> str | None:
    """What a status command printed, or None when it failed, hung or is missing: following a
    run then rests on the state files alone."""
    try:
        done = run_tool(argv, check=False, timeout=timeout)
    except FreightError:
        return None
    return done.stdout if done.returncode == 0 else None


def current_state(run, index: int, since: float) -> dict | None:
    """The task's state file, if written for the attempt submitted at `since` (2 s clock slack)."""
    path = run.paths.state(index)
    data = read_json(path, None) if path.exists() else None
    if not isinstance(data, dict):
        return None
    written = data.get("started") or data.get("ended") or 0
    return data if written >= since - 2.0 else None


def follow(run, log: SubmissionLog, view: dict[tuple[str, int], TaskState] | None,
           scheduler: str) -> dict[int, TaskState]:
    """`poll` for the array targets: `view` is the scheduler's {(job, element): state} (None:
    it could not be asked). A task without a state file of its own is queued while the
    scheduler holds it; one that finished there without writing a final state gets a verdict
    written to its state file (the store reads it, reason and all)."""
    if view is None:
        return {}
    states: dict[int, TaskState] = {}
    for index, where in log.locate().items():
        if current_state(run, index, where.submitted) is not None:
            continue  # the wrapper speaks for it
        seen = view.get((where.job, where.element))
        if seen in (TaskState.queued, TaskState.running):
            states[index] = TaskState.queued  # running is the wrapper's word, once it has said so
        elif seen is not None and seen.finished:
            seen = TaskState.cancelled if log.cancelled_since(where.submitted) else TaskState.failed
            write_verdict(run, index, seen, scheduler)
            states[index] = seen
    return states


def alive(run, log: SubmissionLog, view: dict[tuple[str, int], TaskState] | None, index: int) -> bool | None:
    """`is_alive` for the array targets: a running task its scheduler still runs, or has let go."""
    where = log.locate().get(index)
    seen = view.get((where.job, where.element)) if view is not None and where else None
    if seen is None:
        return None
    return seen in (TaskState.queued, TaskState.running)


def write_verdict(run, index: int, seen: TaskState, scheduler: str) -> None:
    """A task that ended in the scheduler before its wrapper wrote anything: the job script
    failed before starting it, or the job was deleted while it waited."""
    reason = (f"cancelled in {scheduler} before it started" if seen is TaskState.cancelled
              else f"the {scheduler} job script ended before the task started (see {LOG_DIR}/)")
    write_json_atomic(run.paths.state(index), {
        "index": index, "state": seen.value, "reason": reason, "exit_code": None,
        "started": None, "ended": time.time(), "verdict_by": scheduler})


# -- submitting ------------------------------------------------------------------------------------


@dataclass
class Planned:
    """One array job ready to go: its chunk of rows and the files to write (the script first)."""

    chunk: Chunk
    files: dict[str, str]

    @property
    def script_name(self) -> str:
        return next(iter(self.files))


def submit_planned(run, log: SubmissionLog, planned: list[Planned], submit_one: Callable[[Path], str],
                   cancel: Callable[[list[str]], None]) -> Submission:
    """Write each array job's files, record it, hand it to the scheduler, record its id. All or
    nothing: if one is refused, the ones already queued are cancelled (a half-submitted sweep
    would confuse the retry)."""
    run.paths.scripts.mkdir(parents=True, exist_ok=True)
    (run.paths.root / LOG_DIR).mkdir(parents=True, exist_ok=True)
    ids: dict[int, str] = {}
    submitted: list[str] = []
    try:
        for plan in planned:
            for name, text in plan.files.items():
                (run.paths.scripts / name).write_text(text, encoding="utf-8")
            script = run.paths.scripts / plan.script_name
            log.remember(plan.chunk, script)
            try:
                job_id = submit_one(script)
            except FreightError:
                log.record(script, None)
                raise
            submitted.append(job_id)
            log.record(script, job_id)
            ids.update({index: f"{job_id}:{k}" for k, index in enumerate(plan.chunk.indices)})
    except Exception:
        if submitted:
            cancel(submitted)
        raise
    return Submission(ids=ids, meta={"jobs": ",".join(submitted)})


class ArrayTarget:
    """render / poll / is_alive / cancel of the array targets; each subclass gives `_plan`
    (its array jobs), `_view` (its scheduler's {(job, element): state}, None when it cannot be
    asked), `_remove` (cancel those jobs) and `label` (its scheduler's name, for reasons)."""

    name = ""
    label = ""

    def render(self, run, indices: list[int]) -> dict[str, str]:
        return {name: text for plan in self._plan(run, indices) for name, text in plan.files.items()}

    def poll(self, run) -> dict[int, TaskState]:
        log = SubmissionLog(run.paths.root, self.name)
        return follow(run, log, self._view(run, log), self.label)

    def is_alive(self, run, index: int, state: dict) -> bool | None:
        log = SubmissionLog(run.paths.root, self.name)
        return alive(run, log, self._view(run, log), index)

    def cancel(self, run) -> None:
        log = SubmissionLog(run.paths.root, self.name)
        log.request_cancel()
        self._remove(run, log.job_ids())

    def _plan(self, run, indices: list[int]) -> list[Planned]:
        raise NotImplementedError

    def _view(self, run, log: SubmissionLog) -> dict[tuple[str, int], TaskState] | None:
        raise NotImplementedError

    def _remove(self, run, job_ids: list[str]) -> None:
        raise NotImplementedError
