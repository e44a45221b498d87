"""`analyze(path)`: the requirements of a script, a notebook or a project folder.

The answer is the union of what the project declares (requirements files, pyproject ...,
with their pins) and what its code imports (mapped to distributions). Declared packages
that nothing imports stay in: they are often needed without an import (a DB driver, a
server, jupyter); `--check` lists them, runtime companions excepted. A `conda list -e`
export is a snapshot of a whole environment: it pins what is needed, adds nothing itself.

A package is a hard need when some hard import or main declaration asks for it. It is
optional when it is only
- imported under try/except ImportError (or a library's own "not available" error),
  `if TYPE_CHECKING`, a find_spec guard, an availability check (`if is_x_available()`,
  `if HAS_X`), a platform check, a Colab-only branch, `with suppress(ImportError)`;
- imported in tests, docs, examples, setup.py, build tooling or vendored code;
- imported inside a function of library code (a package's lazy import of an optional
  dependency; in scripts and notebooks such an import is a need);
- imported by a project module that the project itself imports only optionally
  (graph.py), or by package code when the package metadata does not list it;
- declared as an extra or a dev dependency, or brought by another need (pydantic-core).
"""

from __future__ import annotations

import os
import posixpath
import re
from functools import lru_cache
from pathlib import Path

TYPE_CHECKING = False  # not typing's: importing typing costs ~2 ms at every `freight deps`
if TYPE_CHECKING:
    from typing import Literal

from freight.deps import scan
from freight.deps.declared import Declarations, read_declarations
from freight.deps.graph import ImportGraph
from freight.deps.models import Declared, DepsReport, FoundImport, NeededPackage
from freight.deps.names import NameResolver, canonicalize_name, comes_with, is_companion
from freight.deps.names import is_stdlib
from freight.deps.pins import pin_locally
from freight.errors import ConfigError, InputError

NOT_IN_METADATA = "imported by the package, not among its declared dependencies"
ONLY_OPTIONALLY = "in a module the project imports only optionally"


def analyze(path: Path | str, pin: Literal["none", "local"] = "none", *,
            workers: int | None = None, cache: bool = False) -> DepsReport:
    """Everything freight can tell about what `path` needs; never needs the network.
    With `cache`, files scanned by an earlier run and unchanged since are not read again."""
    path = Path(path)
    if pin not in ("none", "local"):
        raise ConfigError(f"unknown pin mode {pin!r}", fix="use --pin none or --pin local")
    _check_input(path)
    tree = scan.single_file(path) if path.is_file() else scan.walk(path)
    declarations = read_declarations(tree.project_root or tree.root)
    scans = scan.scan(tree, workers=workers, cache=cache)
    if tree.single:
        scans += _follow_local_imports(tree, scans)
    _add_notebook_installs(scans, declarations)
    report = _Merge(tree, declarations).report(scans, path)
    if pin == "local":
        report.warnings += pin_locally(report.requirements + report.optional)
        report.pin = "local"
    return report


def _check_input(path: Path) -> None:
    fix = "give a script (.py), a notebook (.ipynb) or a project folder"
    if not path.exists():
        raise InputError("no such file or folder", fix=fix, path=path)
    if path.is_file() and path.suffix not in ("", ".py", ".pyw", ".ipynb"):
        problem = f"not a script, a notebook or a folder ({path.suffix} file)"
        raise InputError(problem, fix=fix, path=path)
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        fix = "check its permissions"
        raise InputError("cannot be read (permission denied)", fix=fix, path=path)


def _add_notebook_installs(scans: list[scan.FileScan], declarations: Declarations) -> None:
    """`!pip install x==1` in a notebook declares x (pins kept) and makes it a need."""
    for scanned in scans:
        for text in scanned.pip_requirements:
            if not text.startswith("-") and not text.startswith((".", "/")):
                declarations.add(text, scanned.path, 0, reason=f"!pip install in {scanned.path}")
    declarations.files += sorted({s.path for s in scans if s.pip_requirements})


class _Merge:
    """Imports and declarations folded into one NeededPackage per distribution."""

    def __init__(self, tree: scan.SourceTree, declarations: Declarations):
        self.tree, self.declarations = tree, declarations
        usable = [d for d in declarations.requirements if d.requirement]
        self.resolver = NameResolver(declared={d.name for d in usable})
        self.declared_names = frozenset(d.name for d in usable)
        self.entries: dict[str, NeededPackage] = {}
        self.hard: set[str] = set()
        self.reasons: dict[str, list[str]] = {}
        self.warnings: list[str] = []
        self.unresolved: set[str] = set()
        self.listed: set[tuple[str, str]] = set()  # (key, source or module) already appended
        self.hard_declared = {d.name for d in usable if not d.optional and not d.snapshot}
        self.not_in_metadata: set[str] = set()  # imported by package code, not a declared need
        self.skip: dict[tuple[str, str], str] = {}  # (folder, top) -> kind()

    def report(self, scans: list[scan.FileScan], path: Path) -> DepsReport:
        graph = ImportGraph(self.tree)
        external = [found for scanned in scans for found in self.sort_imports(scanned, graph)]
        self.add_imports(external, graph.optional_only())
        self.add_declared()
        requirements, optional = self.split()
        declared = self.declarations.requirements
        return DepsReport(
            root=path,
            requirements=requirements,
            optional=optional,
            declared=declared,
            warnings=self.tree.warnings + self.declarations.warnings
            + [w for s in scans for w in s.warnings] + self.warnings,
            undeclared_imports=self.undeclared(requirements + optional),
            unused_declared=self.unused(declared),
            python_files_scanned=sum(not s.notebook for s in scans),
            notebooks_scanned=sum(s.notebook for s in scans),
            has_declarations=bool(self.declarations.files),
            pip_options=self.declarations.pip_options,
        )

    # ---- imports ----

    def sort_imports(self, scanned: scan.FileScan, graph: ImportGraph) -> list[tuple[FoundImport, bool]]:
        """The file's imports of other distributions, each with whether the file is library
        code; imports of the project's own modules go to the graph instead."""
        path_reason = self.tree.path_reason(scanned.path)
        folder = posixpath.dirname(scanned.path)
        library = folder in self.tree.packages and not scanned.notebook
        external = []
        for item in scanned.imports:
            kind = "local" if item[0].startswith(".") else self.kind(folder, item[0], scanned.path)
            if kind == "stdlib":
                continue
            if kind == "local":
                optional = bool(scan.import_reason(item[2], path_reason, library))
                graph.add(scanned.path, item[0], optional, from_context=bool(path_reason))
            else:
                found = scan.found_import(scanned.path, item, path_reason, library)
                external.append((found, library))
        return external

    def kind(self, folder: str, module: str, path: str) -> str:
        """"stdlib", "local" (the project's own module) or "" (a distribution's)."""
        top = module.partition(".")[0]
        known = self.skip.get((folder, top))
        if known is None:
            own = top in self.declarations.own_modules or self.tree.is_local(top, path)
            known = "stdlib" if is_stdlib(top) else "local" if own else ""
            self.skip[(folder, top)] = known
        return known

    def add_imports(self, external: list[tuple[FoundImport, bool]], demoted: set[str]) -> None:
        for found, library in external:
            if found.path in demoted and not found.optional:
                found = found._replace(optional=True, reason=ONLY_OPTIONALLY)
            name = self.distribution(found)
            if name is not None:
                self.add_import(name, found, library)

    def distribution(self, found: FoundImport) -> str | None:
        name = self.resolver.distribution(found.module)
        top = found.top
        if name is None:
            if not found.optional and top not in self.unresolved:
                self.unresolved.add(top)
                problem = "is not in the project and is no known distribution; left out"
                self.warnings.append(f"{found.location}: '{top}' {problem}")
            return None
        if top in self.resolver.guessed and self.declared_names:
            return _declared_alias(top, self.declared_names) or name
        return name

    def add_import(self, name: str, found: FoundImport, library: bool) -> None:
        key = _canonical(name)
        if key in self.declarations.own_names:
            return
        entry = self.entry(key, name)
        entry.imported = True
        self.append_once(key, entry.sources, found.location)
        self.append_once(key, entry.modules, found.top)
        if not found.optional and library and self.metadata_decides(key):
            self.not_in_metadata.add(key)
            _append_once(self.reasons.setdefault(key, []), NOT_IN_METADATA)
        elif found.optional:
            _append_once(self.reasons.setdefault(key, []), found.reason)
        else:
            self.hard.add(key)

    def append_once(self, key: str, items: list[str], value: str) -> None:
        if (key, value) not in self.listed:
            self.listed.add((key, value))
            items.append(value)

    def metadata_decides(self, key: str) -> bool:
        """A package whose metadata lists its dependencies, and this is not a hard one."""
        return self.declarations.metadata_lists_dependencies and key not in self.hard_declared

    def entry(self, key: str, name: str) -> NeededPackage:
        if key not in self.entries:
            self.entries[key] = NeededPackage(name=name)
        return self.entries[key]

    # ---- declarations ----

    def add_declared(self) -> None:
        usable = [d for d in self.declarations.requirements if d.requirement]
        usable = [d for d in usable if d.name not in self.declarations.own_names]
        if not usable:
            return
        from packaging.requirements import Requirement  # only projects that declare pay it

        for declared in usable:
            if declared.snapshot and declared.name not in self.entries:
                continue  # an environment dump pins what is needed, adds nothing itself
            entry = self.entry(declared.name, Requirement(declared.requirement).name)
            entry.declared = True
            self.append_once(declared.name, entry.sources, declared.location)
            if declared.optional:
                _append_once(self.reasons.setdefault(declared.name, []), declared.reason)
            elif not declared.snapshot:
                self.hard.add(declared.name)
        for key, entry in self.entries.items():
            _apply_declared_spec(entry, [d for d in usable if d.name == key])

    def undeclared(self, packages: list[NeededPackage]) -> list[NeededPackage]:
        """Imported as a need (or by package code) and declared nowhere."""
        found = [p for p in packages if p.imported and not p.declared]
        found = [p for p in found if not p.optional or _canonical(p.name) in self.not_in_metadata]
        return sorted(found, key=lambda p: _canonical(p.name))

    def unused(self, declared: list[Declared]) -> list[Declared]:
        unused, seen = [], set()
        for item in declared:
            if not item.requirement or item.snapshot or item.optional or item.name in seen:
                continue
            seen.add(item.name)
            entry = self.entries.get(item.name)
            if entry and not entry.imported and not is_companion(item.name):
                unused.append(item)
        return unused

    # ---- result ----

    def split(self) -> tuple[list[NeededPackage], list[NeededPackage]]:
        hard, optional = [], []
        for key in sorted(self.entries):
            entry = self.entries[key]
            brought_by = comes_with(key)
            if brought_by in self.hard and key in self.hard and not self.entries[key].declared:
                self.hard.discard(key)
                _append_once(self.reasons.setdefault(key, []), f"comes with {brought_by}")
            entry.optional = key not in self.hard
            entry.reason = self.reason(key, entry)
            (optional if entry.optional else hard).append(entry)
        return hard, optional

    def reason(self, key: str, entry: NeededPackage) -> str:
        if entry.optional:
            return "; ".join(self.reasons.get(key, [])) or "optional"
        parts = ["imported"] if entry.imported else []
        return "; ".join(parts + (["declared"] if entry.declared else []))


def _apply_declared_spec(entry: NeededPackage, declared: list[Declared]) -> None:
    """The version, extras and marker of the most telling declaration: hard, then pinned."""
    if not declared:
        return
    from packaging.requirements import Requirement

    ranked = sorted(declared, key=lambda d: (d.optional, d.snapshot, "==" not in d.requirement))
    for item in ranked:
        req = Requirement(item.requirement)
        if req.specifier or req.url or req.extras or req.marker:
            entry.specifier = str(req.specifier)
            entry.url = req.url or ""
            entry.extras = tuple(sorted(req.extras))
            entry.marker = str(req.marker) if req.marker else ""
            return


@lru_cache(maxsize=1024)
def _declared_alias(top: str, declared: frozenset[str]) -> str | None:
    """A declared distribution whose name is the import's give or take a py/python affix."""
    wanted = _loose(top)
    matches = [name for name in declared if _loose(name) == wanted]
    return matches[0] if len(matches) == 1 else None


def _loose(name: str) -> str:
    name = re.sub(r"[-_.]+", "", name.lower())
    for affix in ("python", "py"):
        if name.startswith(affix) and len(name) > len(affix) + 2:
            name = name[len(affix) :]
        if name.endswith(affix) and len(name) > len(affix) + 2:
            name = name[: -len(affix)]
    return name


@lru_cache(maxsize=4096)
def _canonical(name: str) -> str:
    return canonicalize_name(name)


def _append_once(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


# ---- one script: follow its local imports ---------------------------------------------


def _follow_local_imports(tree: scan.SourceTree, scans: list[scan.FileScan]) -> list[scan.FileScan]:
    """For a single script or notebook, the local modules it imports are scanned too."""
    done = {s.path for s in scans}
    queue, extra = list(scans), []
    while queue:
        for module, *_ in queue.pop().imports:
            for rel in _local_files(tree.root, module):
                if rel not in done:
                    done.add(rel)
                    extra.append(scan.scan_file(tree.root, rel))
                    queue.append(extra[-1])
    return extra


def _local_files(root: Path, module: str) -> list[str]:
    parts, found = module.lstrip(".").split("."), []
    for size in range(1, len(parts) + 1):
        base = posixpath.join(*parts[:size])
        for rel in (base + ".py", base + "/__init__.py"):
            if (root / rel).is_file():
                found.append(rel)
    return found
