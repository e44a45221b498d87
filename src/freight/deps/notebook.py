"""Read a Jupyter/Colab notebook as plain Python, with its IPython syntax understood.

A notebook's code cells hold Python plus IPython syntax that plain Python cannot run:
`!shell` lines, `%line` and `%%cell` magics, `x = !cmd` captures, `obj?` help, and Colab's
`drive.mount(...)`. This module parses that syntax once (`analyze_notebook`); two renderings
use the parse:

- `read_notebook` gives each code cell as valid-as-possible Python with the SAME line count,
  every IPython line replaced by a placeholder, so an import scanner can parse it and report
  true line numbers; `!pip install` lines become requirement strings.
- `freight.deps.convert` turns the same parse into a runnable script.

Human-facing cell numbers are 1-based (`cell_label`), as a reader counts cells on screen;
`CodeCell.index` stays the 0-based position in the notebook.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

from freight.errors import InputError
from freight.deps import notebook_shell

TYPE_CHECKING = False
if TYPE_CHECKING:
    import nbformat

# Cell magics whose body is Python: the body is kept, the magic line is dropped.
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
# Line magics that wrap a statement: `%time x = f()` keeps `x = f()`.
TIMING_LINE_MAGICS = frozenset({"time", "timeit"})

_CELL_MAGIC = re.compile(r"^%%(\w+)[ \t]*(.*)$")
_SHELL = re.compile(r"^(\s*)!(.*)$")
_MAGIC = re.compile(r"^(\s*)%(\w+)[ \t]?(.*)$")
_ASSIGN = re.compile(r"^(\s*)([A-Za-z_][\w.\[\]'\", ]*?)\s*=\s*(!|%(?=\w))(.*)$")
_HELP = re.compile(r"^(\s*)(\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$")
# Colab's automagic: `pip install x` with no `%` works there and is never valid Python.
_AUTOMAGIC_PIP = re.compile(r"^(\s*)(pip3?\s+(?:install|uninstall)\b.*)$")
_TIMEIT_OPTIONS = re.compile(r"^(?:-[nrp]\s*\S+\s+|-[tcqo]\s+)*")
# Paths that exist only on Colab; `(?<!...)` keeps `/x/content/` out.
_COLAB_PATH = re.compile(r"(?<![\w/.])/content/[^\s'\"`,;()]+")
_MOUNT_POINTS = frozenset({"/content/drive", "/content/drive/"})
_WHERE = re.compile(r": cell (\d+), line (\d+): ")


@dataclass
class CodeCell:
    index: int  # cell number in the notebook (0-based, counting all cells)
    source: str  # IPython syntax replaced by placeholders; same number of lines as the cell
    tree: ast.Module | None = None  # `source` parsed, when it parses (saves parsing it again)


@dataclass
class NotebookCode:
    path: Path
    cells: list[CodeCell]  # code cells only; markdown/raw ignored
    pip_requirements: list[str]  # from `!pip install` / `%pip install` lines, pins kept
    load_ext: list[str]  # module names from `%load_ext x`
    warnings: list[str]  # one line each, naming the notebook file and cell
    apt_packages: list[str] = field(default_factory=list)  # from `!apt-get install` lines
    data_paths: list[str] = field(default_factory=list)  # Colab paths (/content/...) used


@dataclass(frozen=True)
class Line:
    """One source line of a code cell, classified.

    kind: "python" (kept as is), "shell" (`!cmd`, args = the command), "magic" (`%name args`)
    or "help" (`obj?`). `target` is the assigned name in `x = !cmd` / `x = %magic`.
    """

    kind: str
    text: str
    indent: str = ""
    name: str = ""
    args: str = ""
    target: str = ""


@dataclass(frozen=True)
class CellMagic:
    name: str
    args: str
    line_index: int  # 0-based line of the `%%name` line in the cell


@dataclass
class Removal:
    """A statement that only works in IPython/Colab: commented out in every rendering."""

    first: int  # 1-based line numbers in the cell
    last: int
    note: str  # why, for the comment left in its place
    warning: str = ""  # message for the user; "" when the removal needs no attention


@dataclass
class ParsedCell:
    index: int
    lines: list[Line]
    magic: CellMagic | None = None
    syntax_error: SyntaxError | None = None
    removals: list[Removal] = field(default_factory=list)
    tree: ast.Module | None = None  # the neutral rendering parsed (before any removal)

    @property
    def body_is_python(self) -> bool:
        return self.magic is None or self.magic.name in PYTHON_BODY_CELL_MAGICS

    def removal_at(self, lineno: int) -> Removal | None:
        return next((r for r in self.removals if r.first <= lineno <= r.last), None)


@dataclass
class NotebookAnalysis:
    path: Path
    notebook: nbformat.NotebookNode
    cells: list[ParsedCell]
    pip: notebook_shell.Installs
    load_ext: list[str]
    data_paths: list[str]
    warnings: list[str]


def cell_label(index: int) -> str:
    """How a cell is named to a person: 1-based, as cells are counted on screen."""
    return f"cell {index + 1}"


def in_notebook_order(warnings: list[str]) -> list[str]:
    """Warnings sorted by the cell and line they name (as `where` in them says)."""

    def position(warning: str) -> tuple[int, int]:
        found = _WHERE.search(warning)
        return (int(found.group(1)), int(found.group(2))) if found else (0, 0)

    return sorted(warnings, key=position)


def placeholder(indent: str, note: str) -> str:
    """A line standing for removed code: a comment, or `pass` where a block needs a statement."""
    return f"{indent}pass  # {note}" if indent else f"# {note}"


def read_notebook(path: Path) -> NotebookCode:
    """The notebook's code cells as parseable Python, its pip requirements and warnings."""
    found = analyze_notebook(path)
    cells = [CodeCell(c.index, "\n".join(neutral_lines(c)), None if c.removals else c.tree)
             for c in found.cells]
    return NotebookCode(
        path=found.path,
        cells=cells,
        pip_requirements=found.pip.requirements,
        load_ext=found.load_ext,
        warnings=found.warnings,
        apt_packages=found.pip.apt_packages,
        data_paths=found.data_paths,
    )


def analyze_notebook(path: Path) -> NotebookAnalysis:
    """Parse every code cell's IPython syntax and find Colab/IPython-only statements."""
    path = Path(path)
    notebook = load_notebook(path)
    cells = [
        parse_cell(i, cell_text(c)) for i, c in enumerate(notebook.cells) if c.cell_type == "code"
    ]
    warn: list[str] = []
    data_paths = colab_paths(cell_text(c) for c in notebook.cells if c.cell_type == "code")
    _find_removals(path, cells, data_paths, warn)
    pip = notebook_shell.collect(path, cells)
    load_ext = [ln.args.split()[0] for c in cells for ln in c.lines if _is_load_ext(ln)]
    warn = in_notebook_order(pip.warnings + warn)
    return NotebookAnalysis(path, notebook, cells, pip, load_ext, data_paths, warn)


def load_notebook(path: Path) -> nbformat.NotebookNode:
    """nbformat v3 or v4, upgraded to v4; any failure is a one-line InputError."""
    if not path.exists():
        raise InputError("notebook not found", fix="check the path", path=path)
    plain = _plain_v4(path)
    if plain is not None:
        return plain
    import nbformat  # a tenth of a second to import, with its validation: only when needed

    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")  # nbformat warns about missing cell ids
            notebook = nbformat.read(str(path), as_version=4)
    except OSError as exc:
        raise InputError(f"cannot read notebook: {exc.strerror}", fix="check its permissions",
                         path=path) from exc
    except Exception as exc:  # nbformat raises many kinds for bad JSON / non-notebooks
        raise InputError(f"not a readable notebook ({_first_line(exc)})",
                         fix="open and re-save it in Jupyter, or check it is a .ipynb file",
                         path=path) from exc
    if not isinstance(notebook.get("cells"), list):
        raise InputError("not a notebook: no cells", fix="check it is a .ipynb file", path=path)
    return notebook


class _Node(dict):
    """A dict read like nbformat's NotebookNode (`cell.cell_type`)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _plain_v4(path: Path) -> _Node | None:
    """A v4 notebook as nbformat.read(path, as_version=4) gives its cells, read with json
    alone; None for anything else (other versions, odd or broken files), which nbformat
    reads, converts or reports. nbformat would also validate it, but only to log a
    message that `freight deps` does not show."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and type(data.get("nbformat")) is int and data["nbformat"] == 4
            and isinstance(data.get("metadata"), dict) and isinstance(data.get("cells"), list)):
        return None
    cells = []
    for cell in data["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("metadata"), dict):
            return None
        source = cell.get("source")
        if isinstance(source, list):
            if not all(isinstance(line, str) for line in source):
                return None
            cell = {**cell, "source": "".join(source)}  # as nbformat's rejoin_lines
        cells.append(_Node(cell))
    return _Node({**data, "cells": cells})


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def cell_text(cell: dict) -> str:
    """A cell's source as one string (notebooks store it as a string or a list of lines)."""
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    return text.replace("\r\n", "\n")


# ---- parsing IPython syntax -------------------------------------------------------------


def parse_cell(index: int, source: str) -> ParsedCell:
    """Classify each line; a `%%magic` first line (after blank lines) marks a cell magic."""
    raw = source.split("\n")
    magic = _cell_magic(raw)
    if magic is None:
        return _finish(ParsedCell(index, _classify_lines(raw)))
    head = [Line("python", text) for text in raw[: magic.line_index + 1]]
    body = raw[magic.line_index + 1 :]
    if magic.name in PYTHON_BODY_CELL_MAGICS:
        return _finish(ParsedCell(index, head + _classify_lines(body), magic))
    return ParsedCell(index, head + [Line("python", text) for text in body], magic)


def _cell_magic(raw: list[str]) -> CellMagic | None:
    first = next((i for i, text in enumerate(raw) if text.strip()), None)
    found = _CELL_MAGIC.match(raw[first]) if first is not None else None
    return CellMagic(found.group(1), found.group(2).strip(), first) if found else None


def _classify_lines(raw: list[str]) -> list[Line]:
    lines: list[Line] = []
    for text in raw:
        line = _classify(text)
        if line.kind != "python" and _inside_statement([neutral_line(x) for x in lines]):
            line = Line("python", text)  # a `!` or `%` inside a string or open bracket
        lines.append(line)
    return lines


def _classify(text: str) -> Line:
    if found := _ASSIGN.match(text):
        indent, target, sigil, rest = found.groups()
        line = _classify(f"{indent}{sigil}{rest}")
        return Line(line.kind, text, indent, line.name, line.args, target.strip())
    if found := _SHELL.match(text):
        return Line("shell", text, found.group(1), args=found.group(2).strip())
    if found := _MAGIC.match(text):
        indent, name, args = found.groups()
        return Line("magic", text, indent, name, args.strip())
    if found := _AUTOMAGIC_PIP.match(text):
        return Line("magic", text, found.group(1), "pip", found.group(2).split(None, 1)[1])
    if found := _HELP.match(text):
        return Line("help", text, found.group(1))
    return Line("python", text)


def _inside_statement(previous: list[str]) -> bool:
    """Whether the next line continues a statement (open bracket, string or backslash)."""
    text = "\n".join(previous) + "\n"
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text).readline):
            pass
    except tokenize.TokenError:
        return True
    except SyntaxError:  # bad indentation etc.: the cell's own syntax error, reported later
        return False
    return False


def _finish(cell: ParsedCell) -> ParsedCell:
    try:
        cell.tree = ast.parse("\n".join(neutral_lines(cell)))
    except SyntaxError as exc:
        cell.syntax_error = exc
    return cell


# ---- the neutral rendering: parseable Python, same lines --------------------------------


def neutral_lines(cell: ParsedCell) -> list[str]:
    """The cell as Python with the same number of lines; Colab/IPython-only code commented."""
    out = []
    for lineno, line in enumerate(cell.lines, start=1):
        removal = cell.removal_at(lineno)
        if removal is not None:
            out.append(removed_line(line.text, lineno == removal.first, removal.note))
        elif cell.magic is not None and lineno == cell.magic.line_index + 1:
            out.append(f"# {line.text}")
        elif not cell.body_is_python and lineno > cell.magic.line_index:
            out.append(f"# {line.text}".rstrip())
        else:
            out.append(neutral_line(line))
    return out


def neutral_line(line: Line) -> str:
    if line.kind == "python":
        return line.text
    statement = timed_statement(line)
    if statement is not None:
        return f"{line.indent}{statement}"
    if line.target:
        return f"{line.indent}{line.target} = []  # {line.text.strip()}"
    return placeholder(line.indent, line.text.strip())


def removed_line(text: str, first: bool, note: str) -> str:
    """A removed statement's line: the first keeps the block valid, the rest are comments."""
    indent = text[: len(text) - len(text.lstrip())]
    if first:
        return placeholder(indent, f"{note}: {text.strip()}")
    return f"{indent}# {text.strip()}".rstrip()


def timed_statement(line: Line) -> str | None:
    """`%time stmt` / `%timeit -n 3 stmt` → `stmt`; None for other lines."""
    if line.kind != "magic" or line.name not in TIMING_LINE_MAGICS or line.target:
        return None
    statement = _TIMEIT_OPTIONS.sub("", line.args + " ", count=1).strip()
    return statement or None


def _is_load_ext(line: Line) -> bool:
    return line.kind == "magic" and line.name == "load_ext" and bool(line.args.split())


# ---- Colab- and IPython-only statements -------------------------------------------------


def colab_paths(sources) -> list[str]:
    """Paths under /content/ (Colab's disk and Drive mount) named anywhere in the code."""
    found: dict[str, None] = {}
    for source in sources:
        for match in _COLAB_PATH.finditer(source):
            found.setdefault(match.group(0).rstrip("."), None)
    return [p for p in found if p not in _MOUNT_POINTS]


def _find_removals(path: Path, cells: list[ParsedCell], data_paths, warn: list[str]) -> None:
    colab_names: set[str] = set()
    for cell in cells:
        if cell.syntax_error is not None:
            continue
        text = "\n".join(neutral_lines(cell))
        if not colab_names and "colab" not in text and "get_ipython" not in text:
            continue  # nothing here can be Colab- or IPython-only (see _removal_for)
        tree = cell.tree or ast.parse(text)
        for node in _unguarded_simple_statements(tree.body):
            removal = _removal_for(node, colab_names, data_paths)
            if removal is not None:
                cell.removals.append(removal)
                if removal.warning:
                    warn.append(f"{path}: {cell_label(cell.index)}, line {removal.first}: "
                                f"{removal.warning}")


def _unguarded_simple_statements(body: list[ast.stmt], guarded: bool = False):
    """Simple statements, skipping those in `try:` bodies that catch ImportError (they
    already run without Colab)."""
    for node in body:
        inner_guard = guarded or _catches_import_error(node)
        children = [getattr(node, name, []) for name in ("body", "orelse", "finalbody")]
        handlers = getattr(node, "handlers", []) + getattr(node, "cases", [])
        if not any(children) and not handlers:
            if not guarded:
                yield node
            continue
        yield from _unguarded_simple_statements(getattr(node, "body", []), inner_guard)
        for part in ("orelse", "finalbody"):
            yield from _unguarded_simple_statements(getattr(node, part, []), guarded)
        for handler in handlers:
            yield from _unguarded_simple_statements(handler.body, guarded)


def _catches_import_error(node: ast.stmt) -> bool:
    names = set()
    for handler in getattr(node, "handlers", []):
        if handler.type is None:
            return True
        for kind in ast.walk(handler.type):
            if isinstance(kind, ast.Name):
                names.add(kind.id)
    return bool(names & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _removal_for(node: ast.stmt, colab_names: set[str], data_paths) -> Removal | None:
    first, last = node.lineno, node.end_lineno or node.lineno
    if _imports_colab(node):
        colab_names.update(_bound_names(node))
        return Removal(first, last, "Colab only")
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & colab_names
    if used:
        return Removal(first, last, "Colab only", _colab_warning(node, data_paths))
    if any(_calls_name(n, "get_ipython") for n in ast.walk(node)):
        return Removal(first, last, "IPython only",
                       "get_ipython() call commented out: it works only inside IPython")
    return None


def _imports_colab(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[:2] == ["google", "colab"]
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[:2] == ["google", "colab"] for a in node.names)
    return False


def _bound_names(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.asname or a.name.split(".")[0] for a in node.names}
    return {a.asname or a.name for a in node.names}


def _calls_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _colab_warning(node: ast.stmt, data_paths) -> str:
    text = ast.unparse(node)
    if ".mount(" in text:
        where = ", ".join(data_paths) if data_paths else "none found in the code"
        return f"Google Drive mount removed; map these Colab data paths to this machine: {where}"
    if "upload(" in text:
        return "files.upload() removed: put the input files next to the script instead"
    if "download(" in text:
        return "files.download() removed: the file stays in the job's working folder"
    if "userdata" in text:
        return "Colab secrets (userdata) removed: pass them as environment variables instead"
    return f"Colab-only statement removed: {text[:120]}"
