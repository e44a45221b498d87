"""The context of each import in a syntax tree: hard, or optional and why.

Only statements are walked (imports live there); expressions are walked only for string
imports (`import_module("x")`, `__import__("x")`, `find_spec("x")`) when the source has them.
A reason of "" means a hard need; any other text says why the import is optional.
"""

from __future__ import annotations

import ast
import bisect
import re

# (dotted module, line, reason); reason "" = hard.
RawImport = tuple[str, int, str]

TRY_REASON = "try/except ImportError"
TYPE_CHECKING_REASON = "if TYPE_CHECKING"
FIND_SPEC_REASON = "find_spec guard"
PLATFORM_REASON = "platform branch"
SUPPRESS_REASON = "suppress(ImportError)"
AVAILABILITY_REASON = "availability check"
COLAB_REASON = "Colab-only branch"
# Weaker than every other reason: an import inside a function. analyze() counts it as
# optional in library code (lazy imports of optional dependencies) and hard elsewhere.
LAZY_REASON = "imported inside a function"

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
# Libraries' own exceptions for a missing optional package: OptionalDependencyNotAvailable,
# MissingOptionalDependency, DependencyNotInstalled ...
_OPTIONAL_ERROR = re.compile(r"Import|NotAvailable|NotInstalled|Missing|Optional|Unavailable")
OPTIONAL_IMPORTER = re.compile(r"(?i)try_?import|optional_?import|import_optional|lazy_?import")
# Availability checks: `if is_torch_available():`, `if _TORCHVISION_AVAILABLE:`, `if HAS_CV2:`
_AVAILABILITY = re.compile(r"(?i)available|installed|^_?has_|_has_")
_STRING_IMPORTERS = {"import_module", "__import__"}
_SPEC_PROBES = {"find_spec", "find_loader"}
_PLATFORM_ATTRS = {"platform", "PYPY", "IS_WINDOWS", "WIN"}
_PLATFORM_NAMES = {"PYPY", "IS_WINDOWS", "WINDOWS", "WIN", "IS_MACOS", "IS_LINUX"}
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
_NAME = re.compile(r"[A-Za-z_][\w.]*$")


def imports_in_tree(
    tree: ast.Module, line_offset: int = 0, calls: bool | list[int] = True, reason: str = ""
) -> list[RawImport]:
    """Imports of a parsed module; `line_offset` is added to every line number, `reason`
    is the context of the whole text (LAZY_REASON for a block inside a function).
    `calls`: whether to look for string imports in expressions; a list of (sorted) line
    numbers limits that to the expressions spanning one of those lines."""
    collector = Collector(line_offset, calls)
    collector.body(tree.body, reason)
    return collector.found


def from_modules(level: int, module: str, names: list[str]) -> list[str]:
    """The modules a `from ... import names` statement may load, relative ones dotted."""
    dots = "." * level
    if not names:
        return [dots + module] if module or dots else []
    return [f"{dots}{module}.{name}" if module else f"{dots}{name}" for name in names]


def stronger(outer: str, inner: str) -> str:
    """The reason that applies inside a guard: the outer one, unless it is none or lazy."""
    return inner if outer in ("", LAZY_REASON) else outer


class Collector:
    """Walks statements (not expressions) and records imports with their context."""

    def __init__(self, line_offset: int, want_calls: bool | list[int]):
        self.offset = line_offset
        self.want_calls = bool(want_calls)
        self.call_lines = want_calls if isinstance(want_calls, list) else None
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
                reason = stronger(reason, SUPPRESS_REASON)
            elif kind in _FUNCTIONS:
                reason = reason or LAZY_REASON
            self.calls_in_header(node, reason)
            for name in _BODY_FIELDS:
                children = getattr(node, name, None)
                if children:
                    self.body(children, reason)

    def import_from(self, node: ast.ImportFrom, reason: str) -> None:
        # `from google.cloud import storage` needs google.cloud.storage: record each name
        # (a name that is a class, not a module, still maps by its package's prefix).
        # Relative imports keep their dots (`from .bnb import X` -> ".bnb.X"): they are
        # local, and analyze() follows them through the project's own modules.
        names = [alias.name for alias in node.names if alias.name != "*"]
        for module in from_modules(node.level, node.module or "", names):
            self.add(module, node, reason)

    def try_(self, node: ast.Try, reason: str) -> None:
        guarded = any(_catches_import_error(h.type) for h in node.handlers)
        inner = stronger(reason, TRY_REASON) if guarded else reason
        self.body(node.body, inner)
        self.body(node.orelse, inner)
        for handler in node.handlers:
            self.body(handler.body, reason)
        self.body(node.finalbody, reason)

    def if_(self, node: ast.If, reason: str) -> None:
        self.calls_in(node.test, reason)
        body_reason = else_reason = reason
        guard = _guard_reason(node.test)
        if guard in (TYPE_CHECKING_REASON, COLAB_REASON):
            body_reason = stronger(reason, guard)
        elif guard == "not " + TYPE_CHECKING_REASON:
            else_reason = stronger(reason, TYPE_CHECKING_REASON)
        elif guard:
            body_reason = else_reason = stronger(reason, guard)
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
        if not self.want_calls or not self.may_call(expr):
            return
        for call in ast.walk(expr):
            if isinstance(call, ast.Call):
                self.string_import(call, reason)

    def may_call(self, expr: ast.AST) -> bool:
        """Whether `expr` spans a line that names a string importer (walking every
        expression of a long module for them would cost more than parsing it)."""
        first = getattr(expr, "lineno", None)
        if self.call_lines is None or first is None:
            return True
        index = bisect.bisect_left(self.call_lines, first)
        return index < len(self.call_lines) and self.call_lines[index] <= expr.end_lineno

    def string_import(self, call: ast.Call, reason: str) -> None:
        name = _callee_name(call.func)
        if name not in _STRING_IMPORTERS and name not in _SPEC_PROBES:
            return
        if not call.args or not isinstance(call.args[0], ast.Constant):
            return
        module = call.args[0].value
        if isinstance(module, str) and _NAME.match(module) and not module.startswith("."):
            probe = name in _SPEC_PROBES
            self.add(module, call, stronger(reason, FIND_SPEC_REASON) if probe else reason)


def _callee_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _catches_import_error(handler_type: ast.AST | None) -> bool:
    if handler_type is None:
        return True  # a bare except
    names = handler_type.elts if isinstance(handler_type, ast.Tuple) else [handler_type]
    return any(_is_import_error(_callee_name(name)) for name in names)


def _is_import_error(name: str) -> bool:
    return name in _IMPORT_ERRORS or bool(_OPTIONAL_ERROR.search(name))


def _suppresses_import_error(node: ast.With) -> bool:
    """`with suppress(ImportError):`, or a library's `with try_import():` helper."""
    for item in node.items:
        call = item.context_expr
        name = _callee_name(call.func) if isinstance(call, ast.Call) else ""
        if name == "suppress" and any(_catches_import_error(arg) for arg in call.args):
            return True
        if OPTIONAL_IMPORTER.search(name):
            return True
    return False


def _guard_reason(test: ast.AST) -> str:
    """Why an `if` makes its imports optional, or "" when it does not. A Colab test
    anywhere wins over the other guards, so one walk looks for it and for them."""
    if _callee_name(test) == "TYPE_CHECKING":
        return TYPE_CHECKING_REASON
    found = ""
    for node in ast.walk(test):
        if _mentions_colab(node):
            return COLAB_REASON
        found = found or _probe_reason(node)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        if _callee_name(test.operand) == "TYPE_CHECKING":
            return "not " + TYPE_CHECKING_REASON
    return found


def _probe_reason(node: ast.AST) -> str:
    """The guard one node of an `if` test makes: a find_spec probe, a platform or an
    availability check ("" for none)."""
    if isinstance(node, ast.Call) and _callee_name(node.func) in _SPEC_PROBES:
        return FIND_SPEC_REASON
    if _is_platform(node):
        return PLATFORM_REASON
    if isinstance(node, (ast.Name, ast.Attribute)) and _AVAILABILITY.search(_callee_name(node)):
        return AVAILABILITY_REASON
    return ""


def _mentions_colab(node: ast.AST) -> bool:
    """`if 'google.colab' in sys.modules:`, `if IN_COLAB:`: setup for the hosted notebook."""
    text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
    text = text or (_callee_name(node) if isinstance(node, (ast.Name, ast.Attribute)) else "")
    return "colab" in text.lower()


def _is_platform(node: ast.AST) -> bool:
    """`sys.platform`, `os.name`, `platform.system()`, `IS_WINDOWS`: code for another OS.
    (A Python-version branch is not a guard: its imports are needs on some Python.)"""
    if isinstance(node, ast.Name):
        return node.id in _PLATFORM_NAMES
    if not isinstance(node, ast.Attribute):
        return False
    if node.attr in _PLATFORM_ATTRS:
        return True
    owner = node.value.id if isinstance(node.value, ast.Name) else ""
    return (owner, node.attr) in {("os", "name"), ("platform", "system")}
