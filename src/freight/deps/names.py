"""Import name -> distribution name: the installed environment first, then curated data.

Order for a dotted import `a.b.c`:
1. an explicit curated entry for a dotted prefix (`google.protobuf` -> protobuf);
2. a curated namespace rule (`google.cloud.storage` -> google-cloud-storage);
3. the distributions installed here that provide top-level `a`
   (importlib.metadata.packages_distributions()), unless `a` is a generic name such as
   `tests` that some distribution ships by mistake;
4. the curated entry for `a`;
5. `a` itself, which is what most distributions use (pip normalizes `_` and `-`).
When several candidates remain (a namespace, or the curated alternatives for cv2), one the
project declares wins, then one whose name matches the import, then the curated default.
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
        conda_only=frozenset(data["conda_only"]["names"]),
        conda_only_prefixes=tuple(data["conda_only"]["prefixes"]),
    )


def is_stdlib(top: str) -> bool:
    return top in name_table().stdlib


def is_companion(name: str) -> bool:
    return canonicalize_name(name) in name_table().companions


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
        installed = self.installed.get(top, [])
        if len(installed) > 1:
            installed = _providing(module, installed) or installed
        curated = self.table.modules.get(top, [])
        if not curated and not installed:
            self.guessed.add(top)
        return self._choose(curated or installed or [top], top, installed)

    def _generic(self, module: str) -> bool:
        parts = module.split(".")
        return any(".".join(parts[: i + 1]) in self.table.not_distributions for i in range(len(parts)))

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
