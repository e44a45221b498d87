"""Where `freight deps` keeps what it can reuse between runs, and how it reads and writes it.

Two things are kept, both as `marshal` files (plain tuples, dicts and strings; loading one
takes a millisecond, unlike a pickle of objects): the map of the installed environment
(environment.py) and each scanned tree's imports per file (scancache.py). A cache is only
ever an aid: a file that is missing, stale, unreadable or from another Python is rebuilt,
and a cache folder that cannot be written is skipped without a word.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from pathlib import Path

CACHE_ENV = "FREIGHT_CACHE_DIR"  # the same variable freight's other caches honour
FORMAT = 1  # bump when what is stored changes shape
# A file or folder modified this recently may change again within the same tick of the
# file system's clock, which its mtime would not show: what was read from it is not kept.
TRUST_AFTER_NS = 2_000_000_000


def cache_dir() -> Path:
    """freight's cache folder for deps: $FREIGHT_CACHE_DIR/deps, else the user cache dir's."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override) / "deps"
    if sys.platform.startswith("linux"):  # what platformdirs answers here, without its import
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache")
        return Path(base) / "freight" / "deps"
    import platformdirs

    return Path(platformdirs.user_cache_dir("freight")) / "deps"


def trusted(mtime_ns: int, now_ns: int) -> bool:
    """Whether something last modified at mtime_ns may be cached at now_ns (see above)."""
    return mtime_ns < now_ns - TRUST_AFTER_NS


def digest(*parts: object) -> str:
    """A short stable name for a cache file, from what it is keyed on. (Not hashlib: its
    import costs 2 ms. A clash only makes a cache miss: files also hold their full key.)"""
    data = repr(parts).encode("utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def load(path: Path) -> object | None:
    """What `store` wrote at `path`, or None when there is nothing usable there."""
    try:
        data = path.read_bytes()
        value = marshal.loads(data)
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(value, tuple) or len(value) != 2 or value[0] != FORMAT:
        return None
    return value[1]


def store(path: Path, value: object) -> None:
    """Write `value` atomically (a reader never sees half a file); failures are ignored."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(marshal.dumps((FORMAT, value)))
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            tmp.unlink()
        except OSError:
            pass
