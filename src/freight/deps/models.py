"""The data the dependency stage passes between its steps and hands to the image stage.

Plain dataclasses: `FoundImport` (one import seen in one file), `Declared` (one line of a
requirements file, pyproject, environment.yml, ...), `NeededPackage` (one distribution the
workload needs, with every place it was found) and `DepsReport` (the whole answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

JSON_SCHEMA = "freight.deps/1"

@dataclass(frozen=True)
class FoundImport:
    """One imported module (dotted, as written) at one place in the sources."""

    module: str
    path: str  # relative to the analyzed root, with forward slashes
    line: int
    optional: bool = False
    reason: str = "import"  # "import", "try/except ImportError", "TYPE_CHECKING", "tests", ...
    cell: int | None = None  # notebook cell index, when the import is in a notebook

    @property
    def location(self) -> str:
        if not self.line:  # e.g. a notebook's %load_ext: no line to point at
            return self.path
        if self.cell is not None:
            return f"{self.path}:cell{self.cell}:{self.line}"
        return f"{self.path}:{self.line}"

    @property
    def top(self) -> str:
        return self.module.partition(".")[0]


@dataclass(frozen=True)
class Declared:
    """One requirement a project declares. `kind` "conda" entries use conda's names."""

    requirement: str  # PEP 508 text as it should be printed (pins and markers kept)
    name: str  # canonical (packaging.utils.canonicalize_name) distribution name
    path: str
    line: int
    optional: bool = False
    reason: str = "declared"
    kind: Literal["pip", "conda"] = "pip"
    # A full environment dump (`conda list -e`) lists transitive packages too.
    snapshot: bool = False
    original: str = ""  # the text as written, when it was converted (conda specs)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass
class NeededPackage:
    """One distribution the workload needs (or may use, when `optional`)."""

    name: str  # display name, e.g. "scikit-learn", "PyYAML"
    specifier: str = ""  # e.g. "==1.2.0", ">=2"; "" when unpinned
    marker: str = ""  # PEP 508 environment marker, without the ";"
    extras: tuple[str, ...] = ()
    url: str = ""  # for "name @ url" requirements
    optional: bool = False
    reason: str = ""
    declared: bool = False
    imported: bool = False
    sources: list[str] = field(default_factory=list)  # "file:line" (notebooks: file:cellN:line)
    modules: list[str] = field(default_factory=list)  # top-level import names that map here

    @property
    def requirement(self) -> str:
        """The requirements.txt line (PEP 508)."""
        text = self.name + (f"[{','.join(self.extras)}]" if self.extras else "")
        text += f" @ {self.url}" if self.url else self.specifier
        if self.marker:
            text += ("; " if not self.url else " ; ") + self.marker
        return text

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "requirement": self.requirement,
            "specifier": self.specifier,
            "marker": self.marker,
            "optional": self.optional,
            "reason": self.reason,
            "declared": self.declared,
            "imported": self.imported,
            "modules": list(self.modules),
            "sources": list(self.sources),
        }


@dataclass
class DepsReport:
    """Everything `freight deps` found for one script, notebook or project folder."""

    root: Path
    requirements: list[NeededPackage]  # hard needs, sorted by name
    optional: list[NeededPackage]  # optional needs (tests, try/except ImportError, ...)
    declared: list[Declared]
    warnings: list[str]
    undeclared_imports: list[NeededPackage]  # imported (hard) but declared nowhere
    unused_declared: list[Declared]  # declared but never imported (runtime companions excepted)
    python_files_scanned: int = 0
    notebooks_scanned: int = 0
    has_declarations: bool = False
    pin: str = "none"
    pip_options: list[str] = field(default_factory=list)  # --index-url ... from declared files

    @property
    def check_ok(self) -> bool:
        return not self.undeclared_imports and not self.unused_declared

    def requirements_txt(self, include_optional: bool = True) -> str:
        """requirements.txt text: hard needs, then optional ones commented out."""
        lines = self.pip_options + [pkg.requirement for pkg in self.requirements]
        if include_optional and self.optional:
            lines.append("# optional: not needed to run; uncomment what you want")
            lines += [f"# {pkg.requirement}  # {pkg.reason}" for pkg in self.optional]
        return "".join(f"{line}\n" for line in lines)

    def to_json(self) -> dict:
        return {
            "schema": JSON_SCHEMA,
            "root": str(self.root),
            "pin": self.pin,
            "pip_options": list(self.pip_options),
            "python_files_scanned": self.python_files_scanned,
            "notebooks_scanned": self.notebooks_scanned,
            "requirements": [pkg.to_json() for pkg in self.requirements],
            "optional": [pkg.to_json() for pkg in self.optional],
            "declared": [_declared_json(item) for item in self.declared],
            "undeclared_imports": [pkg.to_json() for pkg in self.undeclared_imports],
            "unused_declared": [_declared_json(item) for item in self.unused_declared],
            "warnings": list(self.warnings),
        }


def _declared_json(item: Declared) -> dict:
    return {
        "requirement": item.requirement,
        "name": item.name,
        "source": item.location,
        "optional": item.optional,
        "reason": item.reason,
        "kind": item.kind,
        "original": item.original,
    }
