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

from freight.deps.pyast import RawImport, imports_in_tree

CALL_WORDS = ("import_", "find_")  # substrings of the names _CALLS finds, checked first
_CALLS = [re.compile(name + r"[ \t]*\(") for name in ("import_module", "__import__", "find_spec", "find_loader")]
_IMPORT_KEYWORD = re.compile(r"import\b")
_FROM_HEAD = re.compile(r"from[ \t]+(?:\.+[ \t]*|\.*[\w.]+[ \t]+)")
_WORD = re.compile(r"[A-Za-z_]\w*|.", re.S)
_TOP_STATEMENT = re.compile(r"\n(?!(?:else|elif|except|finally)\b)[A-Za-z_@]")
_ONE_LINE_STRINGS = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
# Python 2 statements; each pattern starts with a literal so `re` scans for it quickly.
_PY2 = (
    ("print ", re.compile(r"print[ \t]+[^\s(=.,)\]}:;]")),
    ("exec ", re.compile(r"exec[ \t]+[\"'A-Za-z_]")),
    ("except ", re.compile(r"except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:")),
)

_NEUTRAL = {"def", "async", "class", "for", "while", "with", "match", "case"}
_GUARDS = {"try", "except", "else", "elif", "if", "finally"}
_CONTINUATIONS = {"except", "else", "elif", "finally"}
_CLOSERS = {")", "]", "}"}
_WINDOW = 4096


class NeedsFullParse(Exception):
    """The fast path met something it does not understand: parse the whole text."""


def fast_imports(text: str) -> list[RawImport]:
    """Imports of `text` (newlines normalized, no null bytes), or raise NeedsFullParse."""
    outside = OutsideStrings(triple_string_spans(text))
    if _looks_like_python2(text, outside):
        raise NeedsFullParse
    plan = _Plan(text, outside)
    for match in _IMPORT_KEYWORD.finditer(text):
        plan.place(match.start())
    if any(word in text for word in CALL_WORDS):
        for pattern in _CALLS:
            plan.tricky += [m.start() for m in pattern.finditer(text) if outside(m.start())]
    return plan.parse()


def has_calls(text: str) -> bool:
    return any(word in text for word in CALL_WORDS)


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
    before = _ONE_LINE_STRINGS.sub("", text[line_start:start])
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
    """Tells whether a position is outside every triple-quoted string."""

    def __init__(self, spans: list[tuple[int, int]]):
        self.starts = [start for start, _ in spans]
        self.spans = spans

    def __call__(self, pos: int) -> bool:
        index = bisect.bisect_right(self.starts, pos) - 1
        return index < 0 or pos >= self.spans[index][1]


def _looks_like_python2(text: str, outside: OutsideStrings) -> bool:
    for word, pattern in _PY2:
        if word in text:
            for match in pattern.finditer(text):
                line_start = text.rfind("\n", 0, match.start()) + 1
                if not text[line_start : match.start()].strip() and outside(match.start()):
                    return True
    return False


# ---- where each import sits ------------------------------------------------------------


class _Plan:
    """What to parse: bare import statements, guard blocks, whole top-level statements."""

    def __init__(self, text: str, outside: OutsideStrings):
        self.text, self.outside = text, outside
        self.statements: list[int] = []  # starts of import statements with a hard context
        self.blocks: set[tuple[int, int]] = set()  # (line start, indent) of guard statements
        self.tricky: list[int] = []  # positions whose whole top-level statement is parsed

    def place(self, pos: int) -> None:
        text = self.text
        if pos and (text[pos - 1].isalnum() or text[pos - 1] == "_"):
            return  # part of a longer name
        line_start = text.rfind("\n", 0, pos) + 1
        before = text[line_start:pos]
        lead = before.lstrip(" \t")
        if lead and not _FROM_HEAD.fullmatch(lead):
            if (":" in before or ";" in before) and self.outside(pos):
                self.tricky.append(pos)  # `try: import x`, `a = 1; import b`
            return
        if not self.outside(pos):
            return
        indent = len(before) - len(lead)
        if line_start >= 2 and text[line_start - 2] == "\\":
            self.tricky.append(pos)  # the statement began on the line before
        elif indent == 0:
            self.statements.append(line_start)
        else:
            self.place_nested(pos, line_start, indent)

    def place_nested(self, pos: int, line_start: int, indent: int) -> None:
        guard = _outermost_guard(self.text, line_start, indent, self.outside)
        if guard is None:
            self.tricky.append(pos)
        elif guard == ():
            self.statements.append(line_start + indent)
        else:
            self.blocks.add(guard)

    def parse(self) -> list[RawImport]:
        text, found = self.text, []
        chunks = _chunks_holding(text, self.tricky, self.outside) if self.tricky else []
        lines = _LineCounter(text)
        for start, end in chunks:
            chunk = text[start:end]
            found += _parse(chunk, lines.before(start), has_calls(chunk))
        for start, indent in sorted(self.blocks):
            if not _inside_any(start, chunks):
                found += self.parse_block(start, indent, lines)
        statements = sorted(pos for pos in self.statements if not _inside_any(pos, chunks))
        return found + _parse_statements(text, statements)

    def parse_block(self, start: int, indent: int, lines: _LineCounter) -> list[RawImport]:
        block = self.text[start : _block_end(self.text, start, indent, self.outside)]
        offset = lines.before(start)
        if indent:
            block, offset = "if 1:\n" + block, offset - 1
        return _parse(block, offset, has_calls(block))


def _outermost_guard(text: str, line_start: int, indent: int, outside):
    """None: headers not understood; (): no guard; else (line start, indent) of a guard."""
    guard: tuple[int, int] | tuple = ()
    while indent > 0:
        header = _header_of(text, line_start, indent, outside)
        if header is None:
            return None
        line_start, indent, word = header
        if word in _GUARDS:
            guard = _statement_start(text, line_start, indent, word, outside)
            if guard is None:
                return None
        elif word not in _NEUTRAL or (word == "with" and "suppress" in _line(text, line_start)):
            return None
    return guard


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
    """(line start, indent) of the last code line before `before` indented at most `width`."""
    pattern = _lines_indented_at_most(width)
    end = before
    while True:
        low = max(0, end - _WINDOW)
        last = None
        for match in pattern.finditer(text, low, end):
            if outside(match.end()) and not (skip_closers and text[match.end()] in _CLOSERS):
                last = match
        if last is not None:
            return last.start() + 1, len(last.group(1))
        if low == 0:
            return _first_line(text, width, skip_closers)
        end = low + width + 2


def _first_line(text: str, width: int, skip_closers: bool):
    lead = len(text) - len(text.lstrip(" \t"))
    char = text[lead : lead + 1]
    if lead > width or not char or char in "\n#" or (skip_closers and char in _CLOSERS):
        return None
    return 0, lead


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


def _parse(source: str, line_offset: int, calls: bool) -> list[RawImport]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        raise NeedsFullParse from None
    return imports_in_tree(tree, line_offset, calls)


def _parse_statements(text: str, positions: list[int]) -> list[RawImport]:
    """Parse just these import statements, all at once, keeping their line numbers."""
    if not positions:
        return []
    pieces, firsts, offsets = [], [], []
    joined_line, lines = 1, _LineCounter(text)
    for pos in positions:
        statement = text[pos : _statement_end(text, pos)]
        firsts.append(joined_line)
        offsets.append(lines.before(pos) + 1 - joined_line)
        joined_line += statement.count("\n") + 1
        pieces.append(statement)
    found = _parse("\n".join(pieces), 0, False)
    return [(mod, line + offsets[bisect.bisect_right(firsts, line) - 1], why) for mod, line, why in found]


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
