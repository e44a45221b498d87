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

from collections import defaultdict

from freight.deps.scan import SourceTree


class ImportGraph:
    """Edges between the project's own files, from relative and local absolute imports."""

    def __init__(self, tree: SourceTree):
        self.tree = tree
        self.files = set(tree.files)
        self.hard: dict[str, set[str]] = defaultdict(set)
        self.imported: set[str] = set()  # files some other file imports
        # Memos: files of one folder import the same modules over and over.
        self.resolved: dict[tuple[str, str], str | None] = {}  # (folder, module) -> file
        self._bases_of: dict[tuple[str, str], list[str]] = {}
        self._files_for: dict[tuple[str, str], str | None] = {}

    def add(self, importer: str, module: str, optional: bool, from_context: bool = False) -> None:
        """An import of a project module. From tests, docs or examples (`from_context`) it
        only counts for package code: a script that tests import is still an entry point."""
        target = self.resolve(importer, module)
        if target is None or target == importer:
            return
        if from_context and target.rpartition("/")[0] not in self.tree.packages:
            return
        self.imported.add(target)
        if not optional:
            self.hard[importer].add(target)

    def resolve(self, importer: str, module: str) -> str | None:
        """The project file `import module` in `importer` loads (the most specific one)."""
        key = (importer.rpartition("/")[0], module)  # its folder (paths here are plain)
        if key not in self.resolved:
            self.resolved[key] = self._resolve(key[0], module)
        return self.resolved[key]

    def _resolve(self, folder: str, module: str) -> str | None:
        dotted = module.lstrip(".")
        dots = len(module) - len(dotted)
        if ".." in dotted or dotted.endswith("."):
            dotted = ".".join(part for part in dotted.split(".") if part)
        if dots:
            parts = folder.split("/") if folder else []
            base = "/".join(parts[: max(0, len(parts) - dots + 1)])
            found = self._file_for(base, dotted) if dotted else None
            init = base + "/__init__.py" if base else "__init__.py"
            return found or (init if init in self.files else None)
        for base in self._bases(folder, dotted.partition(".")[0]):
            found = self._file_for(base, dotted)
            if found:
                return found
        return None

    def _bases(self, folder: str, top: str) -> list[str]:
        """Folders from which `import top...` can load a project module: the importer's
        folder and those above it, src/, and the parents of packages named `top`."""
        key = (folder, top)
        if key not in self._bases_of:
            bases = []
            while True:
                bases.append(folder)
                if not folder:
                    break
                folder = folder.rpartition("/")[0]
            bases += ["src"] + sorted(self.tree.root_parents.get(top, ()))
            self._bases_of[key] = [b for b in bases if top in self.tree.modules.get(b, ())]
        return self._bases_of[key]

    def _file_for(self, base: str, dotted: str) -> str | None:
        """The file of the longest prefix of `dotted` (a module, or a name in one) that
        is a module or package under `base`, if any."""
        key = (base, dotted)
        if key not in self._files_for:
            path = (base + "/" if base else "") + dotted.replace(".", "/")
            found = next((c for c in (path + ".py", path + "/__init__.py") if c in self.files),
                         None)
            if found is None and "." in dotted:
                found = self._file_for(base, dotted.rpartition(".")[0])
            self._files_for[key] = found
        return self._files_for[key]

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
