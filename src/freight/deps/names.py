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
   directly, otherwise importlib.metadata.packages_distributions() is read once (it
   costs a read of every installed distribution's file list);
5. `a` itself, which is what most distributions use (pip normalizes `_` and `-`).
Generic names (`utils`, `tests`, `google.colab`) are never a distribution: None.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import metadata, resources

from packaging.utils import canonicalize_name

_API_VERSION = re.compile(r"_v\d+\w*$")


@dataclass(frozen=True)
class NameTable:
    """The curated data file, data/import_names.toml."""

    modules: dict[str, list[str]]
    namespaces: dict[str, int]
    stdlib: frozenset[str]
    not_distributions: frozenset[str]
    companions: frozenset[str]  # canonical names
    conda: dict[str, str]
    comes_with: dict[str, str]  # canonical name -> canonical name of the package bringing it
    conda_only: frozenset[str]
    conda_only_prefixes: tuple[str, ...]


@lru_cache(maxsize=1)
def name_table() -> NameTable:
    text = resources.files("freight").joinpath("data/import_names.toml").read_text("utf-8")
    data = tomllib.loads(text)
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
    def installed(self) -> dict[str, list[str]]:
        if not self.use_environment:
            return {}
        try:
            found = metadata.packages_distributions()
        except Exception:  # a broken dist-info must not stop the analysis
            return {}
        return {top: list(dict.fromkeys(dists)) for top, dists in found.items()}

    def _installed_for(self, top: str) -> list[str]:
        """Installed distributions providing `top`. A distribution named like the module is
        checked first: reading every installed distribution's file list costs far more."""
        if self.use_environment and "installed" not in self.__dict__:
            named = _named_like(top)
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
        if not self.use_environment:
            return False
        try:
            metadata.distribution(name)
        except (metadata.PackageNotFoundError, ValueError):
            return False
        return True

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


def _named_like(top: str) -> list[str]:
    """[name] of an installed distribution called `top` that ships module `top`, else []."""
    try:
        dist = metadata.distribution(top)
    except (metadata.PackageNotFoundError, ValueError):
        return []
    try:
        listed = (dist.read_text("top_level.txt") or "").split()
        shipped = listed or {str(f).split("/")[0].removesuffix(".py") for f in dist.files or []}
    except Exception:  # an odd dist-info: let the full map decide
        return []
    return [dist.metadata["Name"]] if top in shipped else []


class _Namespace(Exception):
    """A namespace package alone: no distribution can be told from it."""


def _providing(module: str, dists: list[str]) -> list[str]:
    """Of several distributions sharing a top-level name, those that ship `module` itself."""
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
