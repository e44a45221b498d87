"""What each file of a tree imported, kept between runs: a second scan reads no unchanged file.

One cache file per scanned folder holds, per file, its size and modification time with its
scan. A file is scanned again when either differs, when the scanner itself changed (its
modules' sizes and times, the Python version and nbformat's install are in the key), and
when it was modified less than cache.TRUST_AFTER_NS before it was scanned (a file changed
twice within one tick of the file system clock would otherwise look unchanged).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from freight.deps import cache

MAX_TREES = 256  # cache files kept; the least recently written go first
SCANNER_MODULES = ("scan.py", "scancache.py", "pysource.py", "pyfast.py", "pyast.py",
                   "notebook.py", "notebook_shell.py")

# rel path -> (size, mtime_ns, imports, warnings, pip requirements, is a notebook)
Entry = tuple


class ScanCache:
    """The cached scans of one folder."""

    def __init__(self, root: Path):
        real = os.path.realpath(root)
        self.path = cache.cache_dir() / "scans" / f"{cache.digest(real)}.marshal"
        self.key = (real, scanner_key())
        kept = cache.load(self.path)
        self.entries: dict[str, Entry] = kept[1] if _usable(kept, self.key) else {}
        self.started_ns = time.time_ns()

    def get(self, rel: str, stat: tuple[int, int] | None):
        """The cached FileScan of `rel` when its (size, mtime_ns) still match, else None."""
        entry = self.entries.get(rel)
        if entry is None or stat is None or (entry[0], entry[1]) != stat:
            return None
        from freight.deps.scan import FileScan

        return FileScan(rel, entry[2], entry[3], entry[4], entry[5])

    def save(self, scans, stats: dict[str, tuple[int, int] | None]) -> None:
        """Keep these scans (of files whose stats are known and old enough), if any changed."""
        fresh = {}
        for scanned in scans:
            stat = stats.get(scanned.path)
            if stat is not None and cache.trusted(stat[1], self.started_ns):
                fresh[scanned.path] = (*stat, scanned.imports, scanned.warnings,
                                       scanned.pip_requirements, scanned.notebook)
        if fresh != self.entries:
            cache.store(self.path, (self.key, fresh))
            _prune(self.path.parent)


def scanner_key() -> tuple:
    """What a scan depends on besides the file: the scanner's code and its Python."""
    here = os.path.dirname(os.path.abspath(__file__))
    stats = [_stat(os.path.join(here, name)) for name in SCANNER_MODULES]
    return (sys.version, tuple(stats), _stat(_nbformat_origin()))


def _usable(kept, key: tuple) -> bool:
    return isinstance(kept, tuple) and len(kept) == 2 and kept[0] == key


def _stat(path: str | None) -> tuple[int, int] | None:
    try:
        found = os.stat(path) if path else None
    except OSError:
        return None
    return (found.st_size, found.st_mtime_ns) if found else None


def _nbformat_origin() -> str | None:
    """Where nbformat is installed (not imported: it takes a tenth of a second)."""
    from importlib.util import find_spec

    try:
        spec = find_spec("nbformat")
    except (ImportError, ValueError):
        return None
    return spec.origin if spec else None


def _prune(folder: Path) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.stat().st_mtime_ns)
        for entry in entries[:-MAX_TREES]:
            os.unlink(entry.path)
    except OSError:
        pass
