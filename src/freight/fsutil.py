"""Small file helpers that must be right everywhere: atomic JSON writes and tolerant reads.

State files are read by other processes (the supervisor, `freight status`, a login node over
NFS) while they are being written, so every write goes to a temporary file in the same folder,
is fsynced, and renamed over the old one: readers see the old or the new file, never half.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~8 ms in every task
if TYPE_CHECKING:
    from typing import Any


def write_json_atomic(path: Path, data: Any, durable: bool = True) -> None:
    """Replace `path` with `data` as JSON in one rename. `durable=False` skips the fsync: for
    files whose loss in a machine crash is harmless (a task's "running" state), as an fsync
    can cost milliseconds on a busy disk, in every task."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: importing tempfile costs a few ms in every task that reports.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True, default=str)
            handle.write("\n")
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, default: Any = None) -> Any:
    """The parsed file, or `default` when it is missing or (being replaced) unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
