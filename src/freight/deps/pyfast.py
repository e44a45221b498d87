"""Imports of a source text without parsing all of it: the fast path of the import scan.

Parsing every file with `ast` is what makes pipreqs slow on big trees, and almost all of a
file is irrelevant to its imports. So:

1. `import` keywords outside triple-quoted strings are found with `re` and `str.find`.
2. For an indented import, its enclosing block headers are found by indentation (the
   nearest less-indented line, then its parent, up to column 0). When they are all neutral
   (`def`, `class`, `for`, `with` ...) the import is a hard need and only its own statement
   is parsed. When one is a guard (`try`, `if`, `except` ...) only the outermost guard
   statement is parsed with `ast`, which then decides (see pyast.py).
3. Anything not understood (an inline `try: import x`, a string import, a header spread
   over odd continuation lines) parses the whole top-level statement around it; anything
   that does not parse raises `NeedsFullParse`, and the caller parses the whole file.
"""

from __future__ import annotations

import ast
import bisect
import re
from functools import lru_cache

from freight.deps.pyast import LAZY_REASON, OPTIONAL_IMPORTER, RawImport, from_modules
from freight.deps.pyast import imports_in_tree

CALL_WORDS = ("import_", "find_")  # substrings of the names _CALL finds, checked first
_CALLERS = ("import_module", "__import__", "find_spec", "find_loader")
_CALL = re.compile(f"(?:{'|'.join(_CALLERS)})[ \\t]*\\(")
_FROM_HEAD = re.compile(r"from[ \t]+(?:\.+[ \t]*|\.*[\w.]+[ \t]+)")
_WORD = re.compile(r"[A-Za-z_]\w*|.", re.S)
_TOP_STATEMENT = re.compile(r"\n(?!(?:else|elif|except|finally)\b)[A-Za-z_@]")
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_ALIASED = _DOTTED + r"(?: as [A-Za-z_]\w*)?"
_PLAIN_IMPORT = re.compile(rf"import ({_ALIASED}(?: ?, ?{_ALIASED})*)")
_NAMES = r"[A-Za-z_]\w*(?: as [A-Za-z_]\w*)?(?: ?, ?[A-Za-z_]\w*(?: as [A-Za-z_]\w*)?)*"
_PLAIN_FROM = re.compile(rf"from (\.*)({_DOTTED})? import (?:(\*|{_NAMES})|\( ?({_NAMES}) ?,? ?\))")
_LINE_COMMENT = re.compile(r"#[^\n]*")
_SP = r"[ \t]+"
_ALIASED_SP = _DOTTED + rf"(?:{_SP}as{_SP}[A-Za-z_]\w*)?"
_NAME_SP = rf"[A-Za-z_]\w*(?:{_SP}as{_SP}[A-Za-z_]\w*)?"
_SIMPLE_LINE = re.compile(
    rf"^(?:import{_SP}({_ALIASED_SP}(?:[ \t]*,[ \t]*{_ALIASED_SP})*)"
    rf"|from{_SP}(\.*)({_DOTTED})?{_SP}import{_SP}(\*|{_NAME_SP}(?:[ \t]*,[ \t]*{_NAME_SP})*))"
    r"[ \t]*(?:#[^\n]*)?$",
    re.M,
)
_ONE_LINE_STRINGS = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
# Python 2 statements, each found by its first word (str.find outruns a regex search).
_PY2 = (
    ("print ", re.compile(r"print[ \t]+[^\s(=.,)\]}:;]")),
    ("exec ", re.compile(r"exec[ \t]+[\"'A-Za-z_]")),
    ("except ", re.compile(r"except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:")),
)

_GUARD_WITH = re.compile(r"\bsuppress\b|" + OPTIONAL_IMPORTER.pattern.removeprefix("(?i)"), re.I)
_NEUTRAL = {"def", "async", "class", "for", "while", "with", "match", "case"}
_GUARDS = {"try", "except", "else", "elif", "if", "finally"}
_CONTINUATIONS = {"except", "else", "elif", "finally"}
_CLOSERS = {")", "]", "}"}


class NeedsFullParse(Exception):
    """The fast path met something it does not understand: parse the whole text."""


def fast_imports(text: str) -> list[RawImport]:
    """Imports of `text` (newlines normalized, no null bytes), or raise NeedsFullParse."""
    outside = OutsideStrings(triple_string_spans(text))
    if _looks_like_python2(text, outside):
        raise NeedsFullParse
    plan, calls = _Plan(text, outside), []
    for pos in _occurrences(text, "import"):
        after = text[pos + 6 : pos + 7]
        if after == "_":  # import_module( or __import__( may start here (or 2 before)
            calls += [pos, pos - 2] if pos >= 2 else [pos]
        elif not after.isalnum():  # `import\b`: the keyword
            plan.place(pos)
    if "find_" in text:
        calls += _occurrences(text, "find_")
    plan.tricky += [pos for pos in calls if _CALL.match(text, pos) and outside(pos)]
    return plan.parse()


def _occurrences(text: str, word: str):
    """Where `word` occurs in `text`, overlaps included. Each file is scanned for a few
    words; str.find does that several times faster than a regex search."""
    pos = text.find(word)
    while pos >= 0:
        yield pos
        pos = text.find(word, pos + 1)


def has_calls(text: str) -> bool:
    return any(word in text for word in CALL_WORDS)


def call_lines(text: str) -> list[int]:
    """The lines (1-based, sorted) that name a string importer or a spec probe; only the
    expressions spanning them can hold `import_module("x")` and the like."""
    if not has_calls(text):
        return []
    found = {pos for name in _CALLERS for pos in _occurrences(text, name)}
    return sorted({text.count("\n", 0, pos) + 1 for pos in found})


# ---- strings --------------------------------------------------------------------------


def triple_string_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every triple-quoted string; raises when the quotes do not pair up."""
    spans: list[tuple[int, int]] = []
    pos, double, single = 0, text.find('"""'), text.find("'''")
    while True:
        if 0 <= double < pos:
            double = text.find('"""', pos)
        if 0 <= single < pos:
            single = text.find("'''", pos)
        if double < 0 and single < 0:
            return spans
        start = single if double < 0 or 0 <= single < double else double
        if _opens_string(text, start, spans[-1][1] if spans else 0):
            pos = _closing_quote(text, start + 3, text[start : start + 3])
            spans.append((start, pos))
        else:
            pos = start + 3


def _opens_string(text: str, start: int, last_end: int) -> bool:
    """A triple quote starts a string unless it sits in a comment or a one-line string."""
    line_start = max(text.rfind("\n", 0, start) + 1, last_end)
    before = text[line_start:start]
    if "'" in before or '"' in before:
        before = _ONE_LINE_STRINGS.sub("", before)
    return "#" not in before and "'" not in before and '"' not in before


def _closing_quote(text: str, pos: int, quote: str) -> int:
    while True:
        end = text.find(quote, pos)
        if end < 0:
            raise NeedsFullParse
        run = text[pos:end]
        if (len(run) - len(run.rstrip("\\"))) % 2 == 0:
            return end + 3
        pos = end + 1


class OutsideStrings:
    """Tells whether a position is outside every triple-quoted string (and keeps other
    facts about the same text that are costly to find twice)."""

    def __init__(self, spans: list[tuple[int, int]]):
        self.starts = [start for start, _ in spans]
        self.spans = spans
        self._code_lines: dict[int, tuple[list[int], list[int]]] = {}

    def code_lines(self, text: str, width: int) -> tuple[list[int], list[int]]:
        """Starts and indents of the text's lines of code (not blank, not a comment)
        indented at most `width`, in order."""
        if width not in self._code_lines:
            found = [(m.start() + 1, len(m.group(1)))
                     for m in _lines_indented_at_most(width).finditer(text)]
            newline = text.find("\n")
            first = text if newline < 0 else text[:newline]  # no newline before it
            code = first.lstrip(" \t")
            if code and code[0] != "#" and len(first) - len(code) <= width:
                found.insert(0, (0, len(first) - len(code)))
            self._code_lines[width] = ([f[0] for f in found], [f[1] for f in found])
        return self._code_lines[width]

    def __call__(self, pos: int) -> bool:
        index = bisect.bisect_right(self.starts, pos) - 1
        return index < 0 or pos >= self.spans[index][1]


def _looks_like_python2(text: str, outside: OutsideStrings) -> bool:
    for word, pattern in _PY2:
        if word not in text:  # the word and a space: rare outside Python 2 and docs
            continue
        # Each pattern needs the word then a space or tab: only those places are checked.
        tabbed = word.replace(" ", "\t")
        found = [*_occurrences(text, word)]
        found += _occurrences(text, tabbed) if tabbed in text else []
        for pos in found:
            if pattern.match(text, pos):
                line_start = text.rfind("\n", 0, pos) + 1
                if not text[line_start:pos].strip() and outside(pos):
                    return True
    return False


# ---- where each import sits ------------------------------------------------------------


class _Plan:
    """What to parse: bare import statements, guard blocks, whole top-level statements."""

    def __init__(self, text: str, outside: OutsideStrings):
        self.text, self.outside = text, outside
        self.statements: list[tuple[int, str]] = []  # (start, "" or LAZY_REASON) of imports
        self.blocks: dict[tuple[int, int], str] = {}  # (line start, indent) of guards -> reason
        self.tricky: list[int] = []  # positions whose whole top-level statement is parsed
        self.simple: dict[int, list[str]] = {}  # line start -> modules of plain imports

    def place(self, pos: int) -> None:
        text = self.text
        if pos and (text[pos - 1].isalnum() or text[pos - 1] == "_"):
            return  # part of a longer name
        if not self.outside(pos):
            return  # in a docstring (an example's `from x import y`)
        line_start = text.rfind("\n", 0, pos) + 1
        if line_start in self.simple:
            return  # a plain one-line import at column 0, already read
        if (pos == line_start or text[line_start] == "f") and self.read_simple(line_start):
            return
        before = text[line_start:pos]
        lead = before.lstrip(" \t")
        if lead and not _FROM_HEAD.fullmatch(lead):
            if ":" in before or ";" in before:
                self.tricky.append(pos)  # `try: import x`, `a = 1; import b`
            return
        indent = len(before) - len(lead)
        if line_start >= 2 and text[line_start - 2] == "\\":
            self.tricky.append(pos)  # the statement began on the line before
        elif indent == 0:
            self.statements.append((line_start, ""))
        else:
            self.place_nested(pos, line_start, indent)

    def read_simple(self, line_start: int) -> bool:
        """Read a plain one-line import at column 0 (most imports look like that) with one
        regex match, outside strings; False when the line is anything else."""
        match = _SIMPLE_LINE.match(self.text, line_start)
        if match is None:  # (outside strings: `place` checked the import on this line)
            return False
        self.simple[line_start] = _simple_modules(match)
        return True

    def place_nested(self, pos: int, line_start: int, indent: int) -> None:
        found = _outermost_guard(self.text, line_start, indent, self.outside)
        if found is None:
            self.tricky.append(pos)
            return
        guard, lazy = found
        reason = LAZY_REASON if lazy else ""
        if guard == ():
            self.statements.append((line_start + indent, reason))
        else:
            self.blocks[guard] = reason

    def parse(self) -> list[RawImport]:
        text, found = self.text, []
        chunks = _chunks_holding(text, self.tricky, self.outside) if self.tricky else []
        lines = _LineCounter(text)
        for start, end in chunks:
            chunk = text[start:end]
            found += _parse(chunk, lines.before(start), has_calls(chunk))
        for (start, indent), reason in sorted(self.blocks.items()):
            if not _inside_any(start, chunks):
                found += self.parse_block(start, indent, reason, lines)
        statements = sorted(item for item in self.statements if not _inside_any(item[0], chunks))
        for start, modules in self.simple.items():
            line = lines.before(start) + 1
            found += [(module, line, "") for module in modules]
        return found + _parse_statements(text, statements)

    def parse_block(self, start: int, indent: int, reason: str, lines: _LineCounter):
        block = self.text[start : _block_end(self.text, start, indent, self.outside)]
        offset = lines.before(start)
        if indent:
            block, offset = "if 1:\n" + block, offset - 1
        return _parse(block, offset, has_calls(block), reason)


def _outermost_guard(text: str, line_start: int, indent: int, outside):
    """None when the headers above a line are not understood; else (guard, lazy): guard is
    () or the (line start, indent) of the outermost guard statement, lazy is whether a
    `def` encloses that guard (or the line, when there is no guard)."""
    guard: tuple[int, int] | tuple = ()
    lazy = False
    while indent > 0:
        header = _header_of(text, line_start, indent, outside)
        if header is None:
            return None
        line_start, indent, word = header
        if word in _GUARDS:
            guard, lazy = _statement_start(text, line_start, indent, word, outside), False
            if guard is None:
                return None
        elif word == "with" and _GUARD_WITH.search(_line(text, line_start)):
            guard, lazy = (line_start, indent), False  # `with suppress(ImportError):` ...
        elif word == "def" or (word == "async" and " def " in _line(text, line_start) + " "):
            lazy = True
        elif word not in _NEUTRAL:
            return None
    return guard, lazy


def _header_of(text: str, line_start: int, indent: int, outside):
    """The block header of a line: the nearest line above it that is less indented."""
    found = _previous_line(text, line_start, indent - 1, outside)
    if found is None:
        return None
    start, width = found
    word = _WORD.match(text, start + width).group()
    if word in _CLOSERS:  # `):` closing a header spread over lines: find where it opened
        found = _previous_line(text, start, width, outside, skip_closers=True)
        if found is None:
            return None
        start, width = found
        word = _WORD.match(text, start + width).group()
    return start, width, word


def _statement_start(text: str, line_start: int, indent: int, word: str, outside):
    """Where the compound statement of an `except:`/`else:` ... header begins."""
    while word in _CONTINUATIONS:
        found = _previous_line(text, line_start, indent, outside, skip_closers=True)
        if found is None or found[1] != indent:
            return None
        line_start = found[0]
        word = _WORD.match(text, line_start + indent).group()
    return line_start, indent


@lru_cache(maxsize=64)
def _lines_indented_at_most(width: int) -> re.Pattern:
    return re.compile(r"\n([ \t]{0,%d})(?=[^ \t\n#])" % width)


def _previous_line(text, before: int, width: int, outside, skip_closers: bool = False):
    """(line start, indent) of the nearest code line above `before` indented at most `width`.

    The candidates (not blank, not a comment, indented at most `width`) in the 2 KB above
    `before` are found by a regex, nearest first. The header of a long function's body is
    often further up: then all candidates of the text are listed once (per width) and the
    nearest one found by bisection.
    """
    end = before - 1
    if end <= 0:
        return None
    low = max(0, end - 2048)
    for match in reversed(list(_lines_indented_at_most(width).finditer(text, low, end))):
        start, indent = match.start() + 1, len(match.group(1))
        if _fits(text, start, indent, outside, skip_closers):
            return start, indent
    starts, indents = outside.code_lines(text, width)
    for i in range(bisect.bisect_right(starts, low) - 1, -1, -1):
        if _fits(text, starts[i], indents[i], outside, skip_closers):
            return starts[i], indents[i]
    return None


def _fits(text: str, start: int, indent: int, outside, skip_closers: bool) -> bool:
    return outside(start + indent) and not (skip_closers and text[start + indent] in _CLOSERS)


def _block_end(text: str, start: int, indent: int, outside) -> int:
    """End of the compound statement whose header line starts at `start`."""
    for match in _lines_indented_at_most(indent).finditer(text, start + 1):
        head = match.end()
        if not outside(head) or text[head] in _CLOSERS:
            continue
        if len(match.group(1)) == indent and _WORD.match(text, head).group() in _CONTINUATIONS:
            continue
        return match.start() + 1
    return len(text)


def _line(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start : len(text) if end < 0 else end]


def _inside_any(pos: int, chunks: list[tuple[int, int]]) -> bool:
    return any(start <= pos < end for start, end in chunks)


def _chunks_holding(text: str, positions: list[int], outside) -> list[tuple[int, int]]:
    """The top-level statements (start, end) that contain the given positions."""
    starts = [m.start() + 1 for m in _TOP_STATEMENT.finditer(text) if outside(m.start() + 1)]
    if text[:1].isidentifier() or text[:1] == "@":
        starts.insert(0, 0)
    chunks = set()
    for pos in positions:
        index = bisect.bisect_right(starts, pos) - 1
        if index < 0:
            raise NeedsFullParse
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        chunks.add((starts[index], end))
    return sorted(chunks)


# ---- parsing the pieces ---------------------------------------------------------------


class _LineCounter:
    """Newlines before increasing positions, counted once over the text."""

    def __init__(self, text: str):
        self.text, self.pos, self.count = text, 0, 0

    def before(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.count = 0, 0
        self.count += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.count


def _parse(source: str, line_offset: int, calls: bool, reason: str = "") -> list[RawImport]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        raise NeedsFullParse from None
    return imports_in_tree(tree, line_offset, call_lines(source) if calls else False, reason)


def _parse_statements(text: str, statements: list[tuple[int, str]]) -> list[RawImport]:
    """The modules of these (start, reason) import statements; plain ones by regex, the
    rest with ast, all at once."""
    found: list[RawImport] = []
    pieces, firsts, offsets, reasons = [], [], [], []
    joined_line, lines = 1, _LineCounter(text)
    for pos, reason in statements:
        statement = text[pos : _statement_end(text, pos)]
        line = lines.before(pos) + 1
        modules = _plain_import(statement)
        if modules is not None:
            found += [(module, line, reason) for module in modules]
            continue
        firsts.append(joined_line)
        offsets.append(line - joined_line)
        reasons.append(reason)
        joined_line += statement.count("\n") + 1
        pieces.append(statement)
    for module, number, _ in _parse("\n".join(pieces), 0, False) if pieces else []:
        index = bisect.bisect_right(firsts, number) - 1
        found.append((module, number + offsets[index], reasons[index]))
    return found


def _simple_modules(match: re.Match) -> list[str]:
    if match.group(1):
        return [part.split()[0] for part in match.group(1).split(",")]
    module, names = match.group(3) or "", match.group(4)
    parts = [] if names == "*" else [part.split()[0] for part in names.split(",")]
    return from_modules(len(match.group(2)), module, parts)


def _plain_import(statement: str) -> list[str] | None:
    """`import a.b as c, d` -> [a.b, d]; `from a import (b, c as d)` -> [a.b, a.c];
    None when the statement is anything less plain (then ast decides)."""
    if "\\" in statement or ";" in statement:
        return None
    text = " ".join(_LINE_COMMENT.sub("", statement).split())
    match = _PLAIN_IMPORT.fullmatch(text)
    if match:
        return [part.split(" as ")[0].strip() for part in match.group(1).split(",")]
    match = _PLAIN_FROM.fullmatch(text)
    if not match:
        return None
    module, names = match.group(2) or "", match.group(3) or match.group(4)
    parts = [] if names == "*" else [part.split(" as ")[0].strip() for part in names.split(",")]
    return from_modules(len(match.group(1)), module, [part for part in parts if part])


def _statement_end(text: str, pos: int) -> int:
    """End of the logical line of an import statement (parentheses, backslashes)."""
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    statement = text[pos:end].split("#", 1)[0]
    if "(" in statement and ")" not in statement:
        close = text.find(")", end)
        if close < 0:
            raise NeedsFullParse
        return _statement_end(text, close)
    if statement.rstrip().endswith("\\") and end < len(text):
        return _statement_end(text, end + 1)
    return end
