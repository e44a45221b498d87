"""The imports of one piece of Python source (a file or a notebook cell), never raising.

The fast path (pyfast.py) parses only import statements and the guard blocks around them;
when it gives up, the whole text is parsed (pyast.py); when that fails too (Python 2,
pseudo-code, a merge conflict), imports are recovered by a line scan and a warning says so.
"""

from __future__ import annotations

import ast
import re

from freight.deps.pyast import RawImport, imports_in_tree
from freight.deps.pyfast import NeedsFullParse, OutsideStrings, call_lines, fast_imports
from freight.deps.pyfast import triple_string_spans

# (line, message)
RawWarning = tuple[int, str]

_FALLBACK_LINE = re.compile(r"^[ \t]*(import|from)[ \t]+([^#\n]*)", re.M)
_NAME = re.compile(r"[A-Za-z_][\w.]*$")


def imports_in_source(
    text: str, check_syntax: bool = False, tree: ast.Module | None = None
) -> tuple[list[RawImport], list[RawWarning]]:
    """All imports in `text` with their line and reason ("" = hard), plus warnings.

    The fast path does not parse code without imports, so a syntax error there goes
    unnoticed; `check_syntax` parses everything (cheap for a notebook cell) to report it.
    `tree` is `text` already parsed, if the caller has it.
    """
    if tree is not None and "\r" not in text and "\0" not in text:
        return imports_in_tree(tree, 0, call_lines(text)), []
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        found, warnings = imports_in_source(text.replace("\0", ""), check_syntax)
        return found, [(line, "contains null bytes; scanned without them")] + warnings
    if not check_syntax:
        try:
            return fast_imports(text), []
        except NeedsFullParse:
            pass
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return _recovered(text, exc)
    return imports_in_tree(tree, 0, call_lines(text)), []


def _recovered(text: str, exc: Exception) -> tuple[list[RawImport], list[RawWarning]]:
    line = getattr(exc, "lineno", None) or 1
    message = getattr(exc, "msg", None) or type(exc).__name__
    found = line_scan(text)
    return found, [(line, f"does not parse ({message}); imports recovered by a line scan")]


def line_scan(text: str) -> list[RawImport]:
    """Imports recovered line by line from a text ast cannot read (Python 2, pseudo-code)."""
    try:
        outside = OutsideStrings(triple_string_spans(text))
    except NeedsFullParse:
        outside = OutsideStrings([])
    found: list[RawImport] = []
    for match in _FALLBACK_LINE.finditer(text):
        if outside(match.start()):
            line = text.count("\n", 0, match.start()) + 1
            found += [(name, line, "") for name in _names_in(match.group(1), match.group(2))]
    return found


def _names_in(keyword: str, rest: str) -> list[str]:
    rest = rest.strip().strip("\\").strip()
    if keyword == "import":
        names = [part.split(" as ")[0].strip() for part in rest.split(",")]
        return [name for name in names if _NAME.match(name)]
    module, sep, imported = rest.partition(" import ")
    module = module.strip()
    if not sep or not _NAME.match(module):
        return []
    names = [part.split(" as ")[0].strip(" ()") for part in imported.split(",")]
    return [f"{module}.{name}" for name in names if name.isidentifier()] or [module]
