"""The distributions installed here: their names, versions and top-level modules.

`importlib.metadata` answers this, but slowly for a command that runs in a loop: it parses
every METADATA file with the `email` package and makes a path object per RECORD line
(~40 ms for 40 distributions, ~90 ms for 140, plus ~10 ms to import it). Here the same
answers are read with plain string work, and what each `*.dist-info` folder holds is kept
in freight's cache (cache.py), keyed by the folder's path and modification time, so a run
in an unchanged environment lists the `sys.path` folders and reads one small cache file per
folder (a folder modified in the last seconds is read again each time: cache.trusted).

Exactness: discovery mirrors `importlib.metadata`'s path finder (the same folders, order
and name matching), `packages_distributions()` gives what the stdlib function gives, and
`find(name)` the distribution `importlib.metadata.distribution(name)` finds. Where this
Python has other distribution finders, or zip files on `sys.path`, the stdlib answers.
"""

from __future__ import annotations

import os
import re
import sys
import time

from freight.deps import cache

_HEADER = re.compile(r"([\041-\071\073-\176]+):[ \t]*(.*)")
_INFO_SUFFIXES = (".dist-info", ".egg-info")

# One distribution: (Name, Version, top_level.txt names, .py top-levels, all top-levels).
DistInfo = tuple


def normalize(name: str) -> str:
    """importlib.metadata's name matching: PEP 503, with dashes as underscores."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


class Environment:
    """The installed distributions in discovery order, each (kind, key, DistInfo)."""

    def __init__(self, dists: list[tuple[str, str, DistInfo]]):
        self.dists = dists

    def packages_distributions(self) -> dict[str, list[str]]:
        """Top-level module -> names of the distributions providing it (as the stdlib)."""
        found: dict[str, list[str]] = {}
        for _, _, (name, _, declared, inferred, _) in self.dists:
            for top in declared or inferred:
                found.setdefault(top, []).append(name)
        return found

    def find(self, name: str) -> DistInfo | None:
        """The distribution `importlib.metadata.distribution(name)` would find, or None."""
        if not name:
            return None
        wanted = {"info": normalize(name), "egg": name.lower().replace("-", "_")}
        return next((rec for kind, key, rec in self.dists if key == wanted[kind]), None)


def load_environment(use_cache: bool = True) -> Environment:
    """The distributions on `sys.path`, read through the cache when `use_cache`."""
    if not _plain_path_finders():
        return _from_stdlib()
    dists = []
    for entry in sys.path:
        found = _discover(entry)
        if found is None:
            return _from_stdlib()  # a zip file on sys.path: the stdlib reads those
        if found:
            dists += _read_records(entry, found, use_cache)
    return Environment(dists)


def _plain_path_finders() -> bool:
    """Whether importlib.metadata finds distributions only through the sys.path finder."""
    from importlib.machinery import PathFinder

    finders = [f for f in sys.meta_path if hasattr(f, "find_distributions")]
    return all(f is PathFinder or isinstance(f, PathFinder) for f in finders)


def _discover(entry: str) -> list[tuple[str, str, str]] | None:
    """(kind, key, metadata folder) of a sys.path entry, in importlib.metadata's order
    (its `Lookup`); None for a zip file."""
    root = entry or "."
    try:
        children = os.listdir(root)
    except OSError:
        return None if os.path.isfile(root) else []
    base = os.path.basename(entry).lower()
    infos: dict[str, list[str]] = {}
    eggs: dict[str, list[str]] = {}
    for child in children:
        low = child.lower()
        if low.endswith(_INFO_SUFFIXES):
            key = normalize(low.rpartition(".")[0].partition("-")[0])
            infos.setdefault(key, []).append(os.path.join(root, child))
        elif base.endswith(".egg") and low == "egg-info":
            key = base.rpartition(".")[0].partition("-")[0].replace("-", "_")
            eggs.setdefault(key, []).append(os.path.join(root, child))
    found = [("info", key, path) for key, paths in infos.items() for path in paths]
    return found + [("egg", key, path) for key, paths in eggs.items() for path in paths]


def _read_records(entry: str, found, use_cache: bool) -> list[tuple[str, str, DistInfo]]:
    """Each metadata folder's DistInfo, from the cache when its mtime has not changed."""
    path = cache.cache_dir() / "env" / f"{cache.digest(os.path.abspath(entry or '.'))}.marshal"
    kept = (cache.load(path) if use_cache else None) or {}
    fresh, now = {}, time.time_ns()
    for kind, key, folder in found:
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError:
            mtime = -1
        old = kept.get(folder)
        fresh[folder] = old if old is not None and old[0] == mtime else (mtime, read_record(folder))
    keep = {folder: item for folder, item in fresh.items() if cache.trusted(item[0], now)}
    if use_cache and keep != kept:
        cache.store(path, keep)
    return [(kind, key, fresh[folder][1]) for kind, key, folder in found]


def read_record(folder: str) -> DistInfo:
    """What importlib.metadata would tell about one metadata folder (see the module doc)."""
    text = _read(folder, "METADATA") or _read(folder, "PKG-INFO") or _read(folder, "")
    name, version = _headers(text or "", ("name", "version"))
    declared = (_read(folder, "top_level.txt") or "").split()
    inferred, shipped = _top_levels(folder)
    return (name, version, declared, sorted(inferred), sorted(shipped))


def _top_levels(folder: str) -> tuple[set[str], set[str]]:
    """Top-level names of the files a distribution lists: of its .py files (what
    `packages_distributions` infers) and of all files (.py removed)."""
    record = _read(folder, "RECORD")
    if record and '"' not in record:  # plain `path,hash,size` lines: no csv needed
        rows = [line.partition(",")[0] for line in record.splitlines() if line]
    else:
        rows = _file_rows(record, folder)
    inferred, shipped = set(), set()
    for row in rows:
        first, sep, _ = row.partition("/")
        if first in ("", ".") or row.endswith("/"):  # what PurePosixPath normalizes
            top, first = _inferred_top(row), _first_part(row)
        elif not row.endswith(".py"):
            top = None
        elif sep:
            top = None if row.endswith("/.py") else first
        else:
            top = row[:-3] if len(row) > 3 else None
        shipped.add(first.removesuffix(".py"))
        if top is not None:
            inferred.add(top)
    return inferred, shipped


def _read(folder: str, name: str) -> str | None:
    """`PathDistribution.read_text`: None for what is missing or not a file."""
    try:
        with open(os.path.join(folder, name) if name else folder, encoding="utf-8") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None


def _headers(text: str, wanted: tuple[str, ...]) -> list[str | None]:
    """The first value of each wanted header (case-insensitive), as `email` parses them."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match is None:
            if line[:1] in (" ", "\t"):
                continue  # a folded header's continuation
            break  # the end of the headers
        values.setdefault(match.group(1).lower(), match.group(2).rstrip("\r\n"))
    return [values.get(key) for key in wanted]


def _file_rows(text: str | None, folder: str) -> list[str]:
    """The paths RECORD (or an egg's SOURCES.txt) lists, as `Distribution.files` reads them."""
    import csv

    if text:
        return [row[0] for row in csv.reader(text.splitlines()) if row]
    text = _read(folder, "SOURCES.txt")
    if text:
        quoted = ['"{}"'.format(line) for line in text.splitlines()]
        return [row[0] for row in csv.reader(quoted) if row]
    return []


def _parts(path: str) -> list[str]:
    """`PurePosixPath(path).parts`."""
    parts = [part for part in path.split("/") if part and part != "."]
    if path.startswith("/"):
        root = "//" if path.startswith("//") and not path.startswith("///") else "/"
        return [root, *parts]
    return parts


def _inferred_top(path: str) -> str | None:
    """`importlib.metadata._top_level_inferred` for one file: its top-level module name."""
    parts = _parts(path)
    last = parts[-1] if parts else ""
    if not (last.endswith(".py") and len(last) > 3 and last not in ("/", "//")):
        return None
    return parts[0] if len(parts) > 1 else last[:-3]


def _first_part(path: str) -> str:
    """`str(PackagePath(path)).split("/")[0]`."""
    parts = _parts(path)
    if not parts:
        return "."
    return "" if parts[0] in ("/", "//") else parts[0]


def _from_stdlib() -> Environment:
    """The same Records through importlib.metadata itself (slower; exotic set-ups)."""
    from importlib import metadata

    dists = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        version = dist.metadata["Version"]
        declared = (dist.read_text("top_level.txt") or "").split()
        files = [str(f) for f in dist.files or []]
        inferred = sorted({top for top in map(_inferred_top, files) if top is not None})
        shipped = sorted({f.split("/")[0].removesuffix(".py") for f in files})
        dists.append(("name", normalize(name or ""), (name, version, declared, inferred, shipped)))
    return _StdlibEnvironment(dists)


class _StdlibEnvironment(Environment):
    def find(self, name: str) -> DistInfo | None:
        from importlib import metadata

        try:
            dist = metadata.distribution(name)
        except (metadata.PackageNotFoundError, ValueError):
            return None
        wanted = dist.metadata["Name"]
        return next((rec for _, _, rec in self.dists if rec[0] == wanted), None)
