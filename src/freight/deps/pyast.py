"""The context of each import in a syntax tree: hard, or optional and why.

Only statements are walked (imports live there); expressions are walked only for string
imports (`import_module("x")`, `__import__("x")`, `find_spec("x")`) when the source has them.
A reason of "" means a hard need; any other text says why the import is optional.
"""

from __future__ import annotations

import ast
import re

# (dotted module, line, reason); reason "" = hard.
RawImport = tuple[str, int, str]

TRY_REASON = "try/except ImportError"
TYPE_CHECKING_REASON = "if TYPE_CHECKING"
FIND_SPEC_REASON = "find_spec guard"
VERSION_REASON = "python-version or platform branch"
SUPPRESS_REASON = "suppress(ImportError)"

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_STRING_IMPORTERS = {"import_module", "__import__"}
_SPEC_PROBES = {"find_spec", "find_loader"}
_VERSION_ATTRS = {"version_info", "hexversion", "platform", "PY2", "PY3", "PYPY"}
_VERSION_NAMES = {"PY2", "PY3", "PYPY", "IS_WINDOWS", "WINDOWS"}
_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
_NAME = re.compile(r"[A-Za-z_][\w.]*$")


def imports_in_tree(tree: ast.Module, line_offset: int = 0, calls: bool = True) -> list[RawImport]:
    """Imports of a parsed module; `line_offset` is added to every line number."""
    collector = Collector(line_offset, calls)
    collector.body(tree.body, "")
    return collector.found


class Collector:
    """Walks statements (not expressions) and records imports with their context."""

    def __init__(self, line_offset: int, want_calls: bool):
        self.offset = line_offset
        self.want_calls = want_calls
        self.found: list[RawImport] = []

    def add(self, module: str, node: ast.AST, reason: str) -> None:
        self.found.append((module, node.lineno + self.offset, reason))

    def body(self, statements: list[ast.stmt], reason: str) -> None:
        for node in statements:
            self.statement(node, reason)

    def statement(self, node: ast.AST, reason: str) -> None:
        kind = type(node)
        if kind is ast.Import:
            for alias in node.names:
                self.add(alias.name, node, reason)
        elif kind is ast.ImportFrom:
            self.import_from(node, reason)
        elif kind is ast.Try or kind.__name__ == "TryStar":
            self.try_(node, reason)
        elif kind is ast.If:
            self.if_(node, reason)
        else:
            if kind in (ast.With, ast.AsyncWith) and _suppresses_import_error(node):
                reason = reason or SUPPRESS_REASON
            self.calls_in_header(node, reason)
            for name in _BODY_FIELDS:
                children = getattr(node, name, None)
                if children:
                    self.body(children, reason)

    def import_from(self, node: ast.ImportFrom, reason: str) -> None:
        if node.level or not node.module:
            return  # relative imports are always local
        # `from google.cloud import storage` needs google.cloud.storage: record each name
        # (a name that is a class, not a module, still maps by its package's prefix).
        names = [alias.name for alias in node.names if alias.name != "*"]
        for name in names or [""]:
            self.add(f"{node.module}.{name}" if name else node.module, node, reason)

    def try_(self, node: ast.Try, reason: str) -> None:
        guarded = any(_catches_import_error(h.type) for h in node.handlers)
        inner = reason or (TRY_REASON if guarded else "")
        self.body(node.body, inner)
        self.body(node.orelse, inner)
        for handler in node.handlers:
            self.body(handler.body, reason)
        self.body(node.finalbody, reason)

    def if_(self, node: ast.If, reason: str) -> None:
        self.calls_in(node.test, reason)
        body_reason = else_reason = reason
        guard = _guard_reason(node.test)
        if guard == TYPE_CHECKING_REASON:
            body_reason = reason or guard
        elif guard == "not " + TYPE_CHECKING_REASON:
            else_reason = reason or TYPE_CHECKING_REASON
        elif guard:
            body_reason = else_reason = reason or guard
        self.body(node.body, body_reason)
        self.body(node.orelse, else_reason)

    def calls_in_header(self, node: ast.AST, reason: str) -> None:
        if not self.want_calls:
            return
        for name, value in ast.iter_fields(node):
            if name not in _BODY_FIELDS and isinstance(value, (ast.AST, list)):
                for part in value if isinstance(value, list) else [value]:
                    if isinstance(part, ast.AST):
                        self.calls_in(part, reason)

    def calls_in(self, expr: ast.AST, reason: str) -> None:
        """String imports: import_module("x"), __import__("x"), find_spec("x")."""
        if not self.want_calls:
            return
        for call in ast.walk(expr):
            if isinstance(call, ast.Call):
                self.string_import(call, reason)

    def string_import(self, call: ast.Call, reason: str) -> None:
        name = _callee_name(call.func)
        if name not in _STRING_IMPORTERS and name not in _SPEC_PROBES:
            return
        if not call.args or not isinstance(call.args[0], ast.Constant):
            return
        module = call.args[0].value
        if isinstance(module, str) and _NAME.match(module) and not module.startswith("."):
            probe = name in _SPEC_PROBES
            self.add(module, call, reason or (FIND_SPEC_REASON if probe else ""))


def _callee_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _catches_import_error(handler_type: ast.AST | None) -> bool:
    if handler_type is None:
        return True  # a bare except
    names = handler_type.elts if isinstance(handler_type, ast.Tuple) else [handler_type]
    return any(_callee_name(name) in _IMPORT_ERRORS for name in names)


def _suppresses_import_error(node: ast.With) -> bool:
    for item in node.items:
        call = item.context_expr
        if isinstance(call, ast.Call) and _callee_name(call.func) == "suppress":
            if any(_catches_import_error(arg) for arg in call.args):
                return True
    return False


def _guard_reason(test: ast.AST) -> str:
    """Why an `if` makes its imports optional, or "" when it does not."""
    if _callee_name(test) == "TYPE_CHECKING":
        return TYPE_CHECKING_REASON
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        if _callee_name(test.operand) == "TYPE_CHECKING":
            return "not " + TYPE_CHECKING_REASON
    for node in ast.walk(test):
        if isinstance(node, ast.Call) and _callee_name(node.func) in _SPEC_PROBES:
            return FIND_SPEC_REASON
        if _is_version_or_platform(node):
            return VERSION_REASON
    return ""


def _is_version_or_platform(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in _VERSION_NAMES
    if not isinstance(node, ast.Attribute):
        return False
    if node.attr in _VERSION_ATTRS:
        return True
    owner = node.value.id if isinstance(node.value, ast.Name) else ""
    return (owner, node.attr) in {("os", "name"), ("platform", "system")}
