"""Small helpers every batch-scheduler target shares (Grid Engine, Slurm, ...).

- Array index lists: schedulers print and take task lists as "1-5", "3-6:1,8-10:1" (Grid
  Engine), "[0-4,7%2]" (Slurm); `parse_ranges` reads them into (first, last, step) triples that
  can be tested without expanding a 75,000-task array, and `consecutive_ranges` groups indices
  the other way, for submitting.
- Scheduler commands: `run_tool` runs one with a time limit and turns a failure into a one-line
  ConfigError that quotes the scheduler's own message (a missing command is a MissingToolError).
- Submissions cut short: a target records each array (with `submitter()`) before handing it to
  the scheduler and fills in the job id after; `submitter_gone` tells when an entry without an
  id will never get one from the process that wrote it, so `freight status` looks the job up
  by its name or comment instead. `crash_point` lets the tests kill freight right there.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence

from freight.errors import ConfigError, FreightError, MissingToolError

Range = tuple[int, int, int]  # first, last (inclusive), step
_RANGE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")


def parse_ranges(text: str) -> list[Range]:
    """"1-5:2,7,9-10" (optionally in [] and with a "%throttle" suffix) -> [(1, 5, 2), (7, 7, 1),
    (9, 10, 1)]. Raises ValueError on anything else."""
    body = text.strip().strip("[]").split("%", 1)[0]
    ranges = []
    for part in filter(None, (p.strip() for p in body.split(","))):
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"not an array index list: {text!r}")
        first, last, step = match.groups()
        ranges.append((int(first), int(last or first), int(step or 1)))
    return ranges


def in_ranges(number: int, ranges: Iterable[Range]) -> bool:
    return any(first <= number <= last and (number - first) % step == 0 for first, last, step in ranges)


def expand_ranges(ranges: Iterable[Range]) -> list[int]:
    return [n for first, last, step in ranges for n in range(first, last + 1, step)]


def consecutive_ranges(indices: Iterable[int]) -> list[tuple[int, int]]:
    """[0, 1, 2, 5, 7, 8] -> [(0, 2), (5, 5), (7, 8)], in the order given (runs of +1 steps)."""
    ranges: list[list[int]] = []
    for index in indices:
        if ranges and index == ranges[-1][1] + 1:
            ranges[-1][1] = index
        else:
            ranges.append([index, index])
    return [(first, last) for first, last in ranges]


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


class ToolTimeout(FreightError):
    """A scheduler command killed at its time limit; `said` is what it printed on stderr until
    then (sbatch prints why it waits, "... sleeping and retrying", and keeps retrying)."""

    def __init__(self, tool: str, timeout: float, said: str) -> None:
        self.tool, self.said = tool, said
        quoted = f"; it said: {said}" if said else ""
        super().__init__(f"{tool} did not answer within {timeout:.0f} s{quoted}",
                         fix="check that the scheduler is up, then try again")


def _decoded(output: bytes | str | None) -> str:
    """Output caught before a timeout (bytes even with text=True), as one line."""
    text = output.decode(errors="replace") if isinstance(output, bytes) else output or ""
    return one_line(text)


def run_tool(argv: Sequence[str], *, fix: str = "", check: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a scheduler command; with `check`, a non-zero exit is a ConfigError quoting what the
    command printed, so `freight` shows the scheduler's own words in one line (exit 2)."""
    if shutil.which(argv[0]) is None:
        raise MissingToolError(f"{argv[0]} is not installed here (needed for this --target)",
                               fix=fix or "run freight on the cluster's login node")
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ToolTimeout(argv[0], timeout, _decoded(exc.stderr)) from None
    if check and done.returncode != 0:
        said = one_line(done.stderr) or one_line(done.stdout) or f"exit {done.returncode}"
        raise ConfigError(f"{argv[0]} failed: {said}", fix=fix)
    return done


SUBMIT_TIMEOUT_S = 120  # a submitter silent this long has recorded its job id, or never will


def submitter() -> str:
    """Who is submitting: "host:pid", kept with the array until its job id is recorded."""
    return f"{socket.gethostname()}:{os.getpid()}"


def submitter_gone(who: str, since: float) -> bool:
    """Whether the process that recorded an array at `since` (time.time()) can no longer record
    its job id: it has exited (same host), or it is past any scheduler command's time limit."""
    from freight.runs.store import pid_alive

    host, _, pid = who.rpartition(":")
    if time.time() - since > SUBMIT_TIMEOUT_S:
        return True
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


def sort_unrecorded(waiting: list[dict], listed: dict[str, str], since: str) -> tuple[list, list]:
    """Submissions without a job id, against the scheduler's {script: job id} of the run:
    ([(entry, job id)] it did queue, [entry] it never will, their submitters being gone). The
    rest are still being submitted."""
    found = [(entry, listed[entry.get("script", "")]) for entry in waiting if entry.get("script", "") in listed]
    never = [entry for entry in waiting if entry.get("script", "") not in listed
             and submitter_gone(entry.get("by", ""), float(entry[since]))]
    return found, never


def crash_point(name: str) -> None:
    """For tests only: with FREIGHT_TEST_CRASH=<name> in the environment, freight kills itself
    here (SIGKILL: no cleanup runs), as a power cut or `kill -9` would: "submitting" just
    before the scheduler is asked, "submitted" right after it accepted and before freight
    recorded the job id (tests/sched/test_*_faults.py)."""
    if os.environ.get("FREIGHT_TEST_CRASH") == name:
        os.kill(os.getpid(), signal.SIGKILL)
