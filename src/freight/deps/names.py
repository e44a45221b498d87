"""Import name -> distribution name: curated data for known names, else the installed
environment, else the import name itself.

Order for a dotted import `a.b.c`:
1. an explicit curated entry for a dotted prefix (`google.protobuf` -> protobuf);
2. a curated namespace rule (`google.cloud.storage` -> google-cloud-storage);
3. the curated entry for `a` (data/import_names.toml). Known names are answered by the
   table, not by whatever the environment holds (some distributions ship odd top-level
   modules such as `tests`); where the table lists alternatives (cv2: opencv-python,
   opencv-python-headless ...), the one the project declares wins, then the one installed;
4. the distributions installed here that provide `a`: one named like `a` is checked
   directly, otherwise the map of every installed distribution's top-level modules is
   used (what importlib.metadata.packages_distributions() gives; environment.py reads
   it quickly and keeps it in freight's cache);
5. `a` itself, which is what most distributions use (pip normalizes `_` and `-`).
Generic names (`utils`, `tests`, `google.colab`) are never a distribution: None.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import namedtuple
from functools import cached_property, lru_cache

from freight.deps import cache
from freight.deps.environment import Environment, load_environment

_API_VERSION = re.compile(r"_v\d+\w*$")


class NameTable(namedtuple("NameTable", "modules namespaces stdlib not_distributions "
                           "companions conda comes_with conda_only conda_only_prefixes")):
    """The curated data file, data/import_names.toml."""

    __slots__ = ()
    modules: dict[str, list[str]]
    namespaces: dict[str, int]
    stdlib: frozenset[str]
    not_distributions: frozenset[str]
    companions: frozenset[str]  # canonical names
    conda: dict[str, str]
    comes_with: dict[str, str]  # canonical name -> canonical name of the package bringing it
    conda_only: frozenset[str]
    conda_only_prefixes: tuple[str, ...]


def canonicalize_name(name: str) -> str:
    """PEP 503's normal form of a distribution name, as `packaging.utils.canonicalize_name`
    gives it (packaging's module costs ~10 ms to import, more than a small scan)."""
    value = name.lower().replace("_", "-").replace(".", "-")
    while "--" in value:
        value = value.replace("--", "-")
    return value


@lru_cache(maxsize=1)
def name_table() -> NameTable:
    data = _table_data()
    modules = {k: [v] if isinstance(v, str) else list(v) for k, v in data["modules"].items()}
    return NameTable(
        modules=modules,
        namespaces=dict(data["namespaces"]),
        stdlib=frozenset(data["stdlib"]["names"]) | frozenset(sys.stdlib_module_names),
        not_distributions=frozenset(data["not_distributions"]["names"]),
        companions=frozenset(canonicalize_name(n) for n in data["companions"]["names"]),
        conda=dict(data["conda"]),
        comes_with={canonicalize_name(k): canonicalize_name(v) for k, v in data["comes_with"].items()},
        conda_only=frozenset(data["conda_only"]["names"]),
        conda_only_prefixes=tuple(data["conda_only"]["prefixes"]),
    )


def _table_data() -> dict:
    """data/import_names.toml as parsed by tomllib, kept in freight's cache as marshal data
    (reading that skips ~6 ms of importing tomllib and parsing)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                        "import_names.toml")
    try:
        found = os.stat(path)
    except OSError:  # not installed as files (a zip): read it through importlib.resources
        return _parse_table(None)
    key = (path, found.st_size, found.st_mtime_ns)
    kept_at = cache.cache_dir() / "import_names.marshal"
    kept = cache.load(kept_at)
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == key:
        return kept[1]
    data = _parse_table(path)
    if cache.trusted(found.st_mtime_ns, time.time_ns()):
        cache.store(kept_at, (key, data))
    return data


def _parse_table(path: str | None) -> dict:
    import tomllib

    if path is None:
        from importlib import resources

        text = resources.files("freight").joinpath("data/import_names.toml").read_text("utf-8")
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    return tomllib.loads(text)


def is_stdlib(top: str) -> bool:
    return top in name_table().stdlib


def is_companion(name: str) -> bool:
    return canonicalize_name(name) in name_table().companions


def comes_with(name: str) -> str | None:
    """The package that installs `name` as its own implementation part (pydantic-core)."""
    return name_table().comes_with.get(canonicalize_name(name))


def conda_to_pip(name: str) -> str:
    """The PyPI name for a conda package, or "" when it is not a Python package."""
    table = name_table()
    lowered = name.lower()
    if lowered in table.conda:
        return table.conda[lowered]
    if lowered in table.conda_only or lowered.startswith(table.conda_only_prefixes):
        return ""
    return name


class NameResolver:
    """Maps imported module names to distribution display names, caching both sources."""

    def __init__(self, declared: set[str] | frozenset[str] = frozenset(), use_environment=True):
        self.table = name_table()
        self.declared = {canonicalize_name(name) for name in declared}
        self.use_environment = use_environment
        self._cache: dict[str, str | None] = {}
        self.guessed: set[str] = set()  # names that are only the import name, found nowhere

    @cached_property
    def environment(self) -> Environment | None:
        if not self.use_environment:
            return None
        try:
            return load_environment()
        except Exception:  # a broken dist-info must not stop the analysis
            return None

    @cached_property
    def installed(self) -> dict[str, list[str]]:
        if self.environment is None:
            return {}
        found = self.environment.packages_distributions()
        return {top: list(dict.fromkeys(dists)) for top, dists in found.items()}

    def _installed_for(self, top: str) -> list[str]:
        """Installed distributions providing `top`. A distribution named like the module is
        checked first: reading every installed distribution's file list costs far more."""
        if self.environment is not None and "installed" not in self.__dict__:
            named = _named_like(self.environment, top)
            if named:
                return named
        return self.installed.get(top, [])

    def distribution(self, module: str) -> str | None:
        """The distribution providing `module`, or None when it is not one (see module doc)."""
        if module not in self._cache:
            self._cache[module] = self._resolve(module)
        return self._cache[module]

    def _resolve(self, module: str) -> str | None:
        top = module.partition(".")[0]
        if self._generic(module) or top.startswith("_") and top not in self.table.modules:
            return None
        try:
            for candidates in (self._curated_dotted(module), self._namespace(module)):
                if candidates:
                    return self._choose(candidates, top)
        except _Namespace:
            return None
        curated = self.table.modules.get(top, [])
        if curated:  # alternatives (cv2: opencv-python, -headless ...): the installed one
            here = [name for name in curated if len(curated) > 1 and self._is_installed(name)]
            return self._choose(curated, top, here)
        installed = self._installed_for(top)
        if len(installed) > 1:
            installed = _providing(module, installed) or installed
        if not installed:
            self.guessed.add(top)
        return self._choose(installed or [top], top, installed)

    def _is_installed(self, name: str) -> bool:
        return self.environment is not None and self.environment.find(name) is not None

    def _generic(self, module: str) -> bool:
        parts = module.split(".")
        prefixes = (".".join(parts[: i + 1]) for i in range(len(parts)))
        return any(prefix in self.table.not_distributions for prefix in prefixes)

    def _curated_dotted(self, module: str) -> list[str]:
        parts = module.split(".")
        for size in range(len(parts), 1, -1):
            found = self.table.modules.get(".".join(parts[:size]))
            if found:
                return found
        return []

    def _namespace(self, module: str) -> list[str]:
        """Raises _Namespace when the module is only a namespace (`import google.cloud`)."""
        parts = module.split(".")
        if any(key == module or key.startswith(module + ".") for key in self.table.namespaces):
            raise _Namespace(module)
        for size in range(len(parts) - 1, 0, -1):
            depth = self.table.namespaces.get(".".join(parts[:size]))
            if depth and len(parts) >= depth:
                named = parts[:depth]
                named[-1] = _API_VERSION.sub("", named[-1])
                return ["-".join(named).replace("_", "-")]
        return []

    def _choose(self, candidates: list[str], top: str, installed: list[str] = ()) -> str:
        """Declared by the project, then installed here, then named like the import."""
        here = {canonicalize_name(name) for name in installed}
        for wanted in (self.declared, here):
            for name in candidates:
                if canonicalize_name(name) in wanted:
                    return name
        for name in candidates:
            if canonicalize_name(name) == canonicalize_name(top):
                return name
        return candidates[0]


def _named_like(environment: Environment, top: str) -> list[str]:
    """[name] of an installed distribution called `top` that ships module `top`, else []."""
    found = environment.find(top)
    if found is None:
        return []
    name, _, listed, _, shipped = found
    return [name] if top in (listed or shipped) else []


class _Namespace(Exception):
    """A namespace package alone: no distribution can be told from it."""


def _providing(module: str, dists: list[str]) -> list[str]:
    """Of several distributions sharing a top-level name, those that ship `module` itself."""
    from importlib import metadata  # rare (several distributions share a name): stdlib

    path = module.replace(".", "/")
    found = []
    for name in dists:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        if any(str(f).startswith((path + "/", path + ".")) for f in files):
            found.append(name)
    return found
