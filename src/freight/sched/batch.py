"""Small helpers every batch-scheduler target shares (Grid Engine, Slurm, ...).

- Array index lists: schedulers print and take task lists as "1-5", "3-6:1,8-10:1" (Grid
  Engine), "[0-4,7%2]" (Slurm); `parse_ranges` reads them into (first, last, step) triples that
  can be tested without expanding a 75,000-task array, and `consecutive_ranges` groups indices
  the other way, for submitting.
- Scheduler commands: `run_tool` runs one with a time limit and turns a failure into a one-line
  ConfigError that quotes the scheduler's own message (a missing command is a MissingToolError).
"""

from __future__ import annotations

import re
import shutil
import subprocess
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
    except subprocess.TimeoutExpired:
        raise FreightError(f"{argv[0]} did not answer within {timeout:.0f} s",
                           fix="check that the scheduler is up, then try again") from None
    if check and done.returncode != 0:
        said = one_line(done.stderr) or one_line(done.stdout) or f"exit {done.returncode}"
        raise ConfigError(f"{argv[0]} failed: {said}", fix=fix)
    return done
