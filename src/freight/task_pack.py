"""`--pack K`: K rows of a sweep one after another inside one scheduler array element.

10,000 one-minute tasks as 10,000 array elements cost the scheduler 10,000 job starts (each
with its prologue, epilogue and accounting record); packed K to an element they cost
10,000 / K, while every row keeps what it has alone: its own state.json, logs, result and
FREIGHT_TASK_INDEX, its own time limit (enforced by the task wrapper) and its own exit code.

- `pack_groups(rows, k)`: the rows of each element: the sorted rows cut into runs of k, so a
  retry packs only the rows it retries.
- A pack file lists one element per line, its rows separated by spaces. A target writes it
  next to its job scripts; `python -m freight.task RUN_DIR --pack FILE` runs the line (from 0)
  given by its array index (--index N, else the scheduler's array variable plus
  $FREIGHT_INDEX_OFFSET, as for one row).
- `PackedRows.run()` runs the rows in order. A failing row does not stop the others; a cancel
  (SIGTERM, SIGINT, SIGHUP) does, and the rows that never started are written cancelled. The
  exit code is 0 when every row succeeded, else the first unsuccessful row's (1 if that is 0).
- Requeue (preempt.py): a row the scheduler is to run again (Slurm's `scontrol requeue`, Grid
  Engine's exit 99) ends the element there, with that row's exit code; the rows after it keep
  no state. When the scheduler runs the element again, rows that ended since the pack file was
  written (this submission) are skipped, so none runs twice; a retry writes a new pack file.

Like freight.task, this runs at the start of every array element: stdlib and light modules only.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterable, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from freight.errors import InputError
from freight.fsutil import read_json, write_json_atomic
from freight.preempt import requeuer, slurm_is_requeueing
from freight.runs.layout import RunPaths
from freight.spec.state import FINISHED, TaskState
from freight.task import CANCEL_SIGNALS, TaskAttempt, load_job, resolve_index

PACK_FILE = "pack.rows"


def pack_groups(rows: Iterable[int], k: int) -> list[list[int]]:
    """[0, 1, 2, 5, 9] packed 2 -> [[0, 1], [2, 5], [9]]: sorted, unique, cut into runs of k."""
    ordered = sorted(set(rows))
    return [ordered[i:i + k] for i in range(0, len(ordered), k)]


def pack_file_text(groups: list[list[int]]) -> str:
    return "".join(" ".join(map(str, group)) + "\n" for group in groups)


def read_pack_file(path: Path) -> list[list[int]]:
    with open(path, encoding="utf-8") as handle:
        return [[int(word) for word in line.split()] for line in handle]


def pack_line(path: Path, number: int) -> list[int]:
    """Line `number` (from 0) of a pack file: the rows of that array element."""
    try:
        with open(path, encoding="utf-8") as handle:
            line = next(islice(handle, number, None), "")
    except OSError as exc:
        raise InputError(f"cannot read the pack file: {exc.strerror}", path=path) from None
    words = line.split()
    if not words or not all(word.isdigit() for word in words):
        raise InputError(f"no rows on line {number} of the pack file", path=path,
                         fix="run the job script that freight rendered with this file")
    return [int(word) for word in words]


def rows_params(paths: RunPaths, rows: list[int]) -> dict[int, dict[str, Any]]:
    """{row: its params} for these rows, in their order, from one pass over tasks.jsonl."""
    wanted, found = set(rows), {}
    with open(paths.tasks, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number in wanted:
                found[number] = json.loads(line).get("params", {})
                if len(found) == len(wanted):
                    break
    missing = [row for row in rows if row not in found]
    if missing:
        raise InputError(f"rows {missing} do not exist in this run", path=paths.tasks)
    return {row: found[row] for row in rows}


def load_pack(run_dir: str, explicit_index: int | None, pack_file: str) -> PackedRows:
    paths, job = load_job(run_dir)
    number = resolve_index(explicit_index, os.environ)
    if number is None:
        raise InputError("no array index for --pack: neither --index nor a scheduler array "
                         "variable is set", fix="pass --index N (the pack file's line, from 0)")
    rows = pack_line(Path(pack_file), number)
    return PackedRows(paths, job, rows_params(paths, rows), os.stat(pack_file).st_mtime_ns)


class PackedRows:
    """The rows of one array element, one TaskAttempt after another."""

    def __init__(self, paths: RunPaths, job: Mapping[str, Any], rows: dict[int, dict[str, Any]],
                 submitted_ns: int = 0):
        self.paths, self.job, self.rows = paths, job, rows
        self.submitted_ns = submitted_ns  # the pack file's mtime: this submission's start
        self.attempt: TaskAttempt | None = None
        self.stopping = False

    def run(self) -> int:
        outcome = 0
        waiting = list(self.rows)
        while waiting and not self.stopping:
            index = waiting[0]
            if self._ended_in_this_submission(index):  # the element runs again: not twice
                waiting.pop(0)
                continue
            self.attempt = TaskAttempt(self.paths, self.job, index, self.rows[index])
            if self.stopping:  # cancelled while the attempt was being made
                break
            waiting.pop(0)
            code = self.attempt.run()
            self._between_rows()
            state = self.attempt.state
            if state.get("state") == TaskState.queued.value and state.get("requeue_by") in ("slurm", "sge"):
                return code  # the scheduler runs this element again, from this row on
            if state.get("state") != TaskState.succeeded.value:
                outcome = outcome or code or 1
        if waiting and not _scheduler_requeueing():
            self._cancel_unstarted(waiting)
        return outcome

    def _ended_in_this_submission(self, index: int) -> bool:
        """A final state written after the pack file: the row ran in an earlier run of this
        same element (requeued, rescheduled). File times, not clocks: both come from one file
        system, where the node that wrote the state and the one that submitted may disagree."""
        path = self.paths.state(index)
        try:
            if path.stat().st_mtime_ns <= self.submitted_ns:
                return False
        except OSError:
            return False
        state = read_json(path, {})
        return isinstance(state, dict) and state.get("state") in {s.value for s in FINISHED}

    def _between_rows(self) -> None:
        """A finished attempt's signal handlers are still installed: from here until the next
        attempt installs its own, a cancel stops the pack (and the row about to start)."""
        signal.setitimer(signal.ITIMER_REAL, 0)  # a kill timer the last attempt armed late
        self.stopping = self.stopping or bool(self.attempt and self.attempt.cancelled)
        for signum in CANCEL_SIGNALS:
            signal.signal(signum, self._on_cancel)

    def _on_cancel(self, _signum: int, _frame: Any) -> None:
        self.stopping = True
        if self.attempt is not None:  # a row being set up: TaskAttempt._start stops its program
            self.attempt.cancelled = True

    def _cancel_unstarted(self, rows: list[int]) -> None:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # nothing left to time
        host = os.uname().nodename
        for index in rows:
            self.paths.task_dir(index).mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.paths.state(index), {
                "state": TaskState.cancelled.value, "index": index, "host": host, "ended": time.time(),
                "reason": "cancelled before it started (its pack was stopped)"})


def _scheduler_requeueing() -> bool:
    """Whether the stop came from Slurm requeueing the element (preemption): then the rows not
    started yet run when it starts again, and must not be written off as cancelled."""
    return requeuer(os.environ) == "slurm" and slurm_is_requeueing(os.environ)
