"""The project's own import graph: which of its modules are loaded only optionally.

A library often keeps an optional integration in a module of its own (`tuners/lora/bnb.py`
imports bitsandbytes at the top) and imports that module only behind a guard
(`if is_bnb_available(): from .bnb import ...`). The module's imports are then optional
too. So: an edge goes from each project file to each project module it imports, marked
optional or not; entry points (files nothing imports, and every package `__init__.py`,
which users import directly) are loaded; hard edges load more; a module that something
imports but that no chain of hard imports reaches is loaded only optionally.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict

from freight.deps.scan import SourceTree


class ImportGraph:
    """Edges between the project's own files, from relative and local absolute imports."""

    def __init__(self, tree: SourceTree):
        self.tree = tree
        self.files = set(tree.files)
        self.hard: dict[str, set[str]] = defaultdict(set)
        self.imported: set[str] = set()  # files some other file imports

    def add(self, importer: str, module: str, optional: bool, from_context: bool = False) -> None:
        """An import of a project module. From tests, docs or examples (`from_context`) it
        only counts for package code: a script that tests import is still an entry point."""
        target = self.resolve(importer, module)
        if target is None or target == importer:
            return
        if from_context and posixpath.dirname(target) not in self.tree.packages:
            return
        self.imported.add(target)
        if not optional:
            self.hard[importer].add(target)

    def resolve(self, importer: str, module: str) -> str | None:
        """The project file `import module` in `importer` loads (the most specific one)."""
        dots = len(module) - len(module.lstrip("."))
        parts = [part for part in module[dots:].split(".") if part]
        if dots:
            base = posixpath.dirname(importer)
            for _ in range(dots - 1):
                base = posixpath.dirname(base)
            return self._longest(base, parts, package_default=True)
        for base in self._bases(importer, parts[0]):
            found = self._longest(base, parts, package_default=False)
            if found:
                return found
        return None

    def _bases(self, importer: str, top: str) -> list[str]:
        folder, bases = posixpath.dirname(importer), []
        while True:
            bases.append(folder)
            if not folder:
                break
            folder = posixpath.dirname(folder)
        bases += ["src"] + sorted(self.tree.root_parents.get(top, ()))
        return [base for base in bases if top in self.tree.modules.get(base, ())]

    def _longest(self, base: str, parts: list[str], package_default: bool) -> str | None:
        for size in range(len(parts), 0, -1):
            path = posixpath.join(base, *parts[:size])
            for candidate in (path + ".py", path + "/__init__.py"):
                if candidate in self.files:
                    return candidate
        init = posixpath.join(base, "__init__.py")
        return init if package_default and init in self.files else None

    def optional_only(self) -> set[str]:
        """Files that are imported, but only behind guards (or by such files)."""
        loaded = {f for f in self.files if f not in self.imported or f.endswith("__init__.py")}
        queue = list(loaded)
        while queue:
            for target in self.hard.get(queue.pop(), ()):
                if target not in loaded:
                    loaded.add(target)
                    queue.append(target)
        return self.imported - loaded
