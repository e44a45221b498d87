"""The data the dependency stage passes between its steps and hands to the image stage.

`FoundImport` (one import seen in one file), `Declared` (one line of a requirements file,
pyproject, environment.yml, ...), `NeededPackage` (one distribution the workload needs,
with every place it was found) and `DepsReport` (the whole answer).

Plain classes, not dataclasses: importing `dataclasses` loads `inspect`, and with the
classes it makes that is ~10 ms of every `freight deps` start (a fifth of a small
project's whole run, which is compared with pipreqs). Values that never change are named
tuples; the others are classes with slots and a `Record` repr and equality.
"""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

TYPE_CHECKING = False  # not typing's: importing typing costs ~2 ms at every `freight deps`
if TYPE_CHECKING:
    from typing import Literal

JSON_SCHEMA = "freight.deps/1"


class Record:
    """What @dataclass would write for a class with __slots__: repr and equality."""

    __slots__ = ()
    __hash__ = None  # mutable: not hashable, as a dataclass

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)


class FoundImport(namedtuple("FoundImport", "module path line optional reason cell",
                             defaults=(False, "import", None))):
    """One imported module (dotted, as written) at one place in the sources.

    module: dotted; path: relative to the analyzed root, with forward slashes; reason:
    "import", "try/except ImportError", "TYPE_CHECKING", "tests", ...; cell: the notebook
    cell index, when the import is in a notebook."""

    __slots__ = ()
    module: str
    path: str
    line: int
    optional: bool
    reason: str
    cell: int | None

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


class Declared(namedtuple("Declared", "requirement name path line optional reason kind "
                          "snapshot original",
                          defaults=(False, "declared", "pip", False, ""))):
    """One requirement a project declares. `kind` "conda" entries use conda's names.

    requirement: PEP 508 text as it should be printed (pins and markers kept); name:
    canonical (packaging.utils.canonicalize_name); snapshot: from a full environment dump
    (`conda list -e`), which lists transitive packages too; original: the text as
    written, when it was converted (conda specs)."""

    __slots__ = ()
    requirement: str
    name: str
    path: str
    line: int
    optional: bool
    reason: str
    kind: Literal["pip", "conda"]
    snapshot: bool
    original: str

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class NeededPackage(Record):
    """One distribution the workload needs (or may use, when `optional`)."""

    __slots__ = ("name", "specifier", "marker", "extras", "url", "optional", "reason",
                 "declared", "imported", "sources", "modules")

    def __init__(self, name: str, specifier: str = "", marker: str = "",
                 extras: tuple[str, ...] = (), url: str = "", optional: bool = False,
                 reason: str = "", declared: bool = False, imported: bool = False,
                 sources: list[str] | None = None, modules: list[str] | None = None):
        self.name = name  # display name, e.g. "scikit-learn", "PyYAML"
        self.specifier = specifier  # e.g. "==1.2.0", ">=2"; "" when unpinned
        self.marker = marker  # PEP 508 environment marker, without the ";"
        self.extras = extras
        self.url = url  # for "name @ url" requirements
        self.optional = optional
        self.reason = reason
        self.declared = declared
        self.imported = imported
        self.sources = [] if sources is None else sources  # "file:line" (file:cellN:line)
        self.modules = [] if modules is None else modules  # top-level import names here

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


class DepsReport(Record):
    """Everything `freight deps` found for one script, notebook or project folder."""

    __slots__ = ("root", "requirements", "optional", "declared", "warnings",
                 "undeclared_imports", "unused_declared", "python_files_scanned",
                 "notebooks_scanned", "has_declarations", "pin", "pip_options")

    def __init__(self, root: Path, requirements: list[NeededPackage],
                 optional: list[NeededPackage], declared: list[Declared], warnings: list[str],
                 undeclared_imports: list[NeededPackage], unused_declared: list[Declared],
                 python_files_scanned: int = 0, notebooks_scanned: int = 0,
                 has_declarations: bool = False, pin: str = "none",
                 pip_options: list[str] | None = None):
        self.root = root
        self.requirements = requirements  # hard needs, sorted by name
        self.optional = optional  # optional needs (tests, try/except ImportError, ...)
        self.declared = declared
        self.warnings = warnings
        self.undeclared_imports = undeclared_imports  # imported (hard), declared nowhere
        self.unused_declared = unused_declared  # declared, never imported (companions aside)
        self.python_files_scanned = python_files_scanned
        self.notebooks_scanned = notebooks_scanned
        self.has_declarations = has_declarations
        self.pin = pin
        self.pip_options = [] if pip_options is None else pip_options  # --index-url ...

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
