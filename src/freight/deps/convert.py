"""Notebook → a script that runs under plain python (`freight convert`).

`jupyter nbconvert --to script` leaves `get_ipython().system(...)` calls that fail outside
IPython. Here every IPython construct is translated to plain Python where there is a clear
equivalent (`!cmd` → checked `subprocess.run`, `%cd` → `os.chdir`, `%env` → `os.environ`,
`%%writefile` → `open().write`), and commented out with a reason where there is none.
Package installs become requirements listed at the top: the job's environment provides them.
The parse is shared with `freight deps` (freight.deps.notebook).
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import stat
import string
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from freight.deps import notebook_shell
from freight.deps.notebook import (
    Line,
    NotebookAnalysis,
    ParsedCell,
    analyze_notebook,
    cell_label,
    cell_text,
    in_notebook_order,
    neutral_lines,
    placeholder,
    removed_line,
    timed_statement,
)
from freight.errors import InputError

TEMPLATE = "convert_script.py.j2"
_FUTURE = re.compile(r"^from\s+__future__\s+import\b")
_ENV = re.compile(r"^([A-Za-z_]\w*)(?:\s*=\s*|\s+)(.*)$")
_SHELLS = frozenset({"bash", "sh", "zsh"})
# Magics that only change how IPython displays or behaves: dropped without a warning.
_QUIET_DROPS = frozenset({
    "matplotlib", "config", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport",
    "precision", "xmode", "pdb", "colors", "pprint", "automagic", "autocall", "lsmagic",
    "magic", "who", "whos", "who_ls", "history", "notebook", "quickref", "doctest_mode",
    "alias_magic", "pinfo", "pinfo2", "psearch", "tb", "clear", "page",
})
_SHELL_ALIASES = frozenset({"ls", "cat", "mkdir", "rm", "cp", "mv", "rmdir", "ln", "sx", "system"})
_DISPLAY_CELL_MAGICS = frozenset({"html", "HTML", "javascript", "js", "latex", "markdown", "svg"})
_RUN_FLAGS = frozenset({"-i", "-t", "-e", "-p", "-d", "-n", "-G"})


@dataclass
class Conversion:
    script: str
    requirements: list[str]
    apt_packages: list[str]
    data_paths: list[str]
    warnings: list[str]


@dataclass
class _Context:
    """What the rendering of one notebook gathers: imports it needs, warnings, position."""

    path: Path
    imports: set[str] = field(default_factory=set)
    future_imports: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    where: str = ""

    def at(self, cell: ParsedCell, lineno: int) -> None:
        self.where = f"{self.path}: {cell_label(cell.index)}, line {lineno}"

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.where}: {message}")


def convert_notebook(
    path: Path, *, markdown: bool = True, script_name: str | None = None
) -> Conversion:
    """The notebook as a runnable script, with what it needs from outside listed.
    `script_name` names the script in its header (default: the notebook's name, .py)."""
    found = analyze_notebook(Path(path))
    ctx = _Context(found.path)
    cells = _render_cells(found, ctx, markdown)
    script = _template().render(
        script_name=script_name or found.path.with_suffix(".py").name,
        notebook_name=found.path.name,
        future_imports=ctx.future_imports,
        requirements=found.pip.requirements,
        apt_packages=found.pip.apt_packages,
        data_paths=found.data_paths,
        imports=sorted(ctx.imports),
        display_shim=_needs_display_shim(found.cells),
        cells=cells,
    )
    return Conversion(script, found.pip.requirements, found.pip.apt_packages,
                      found.data_paths, in_notebook_order(found.warnings + ctx.warnings))


def write_script(script: str, output: Path, notebook: Path) -> None:
    """Write the script and make it executable (it starts with a python3 shebang)."""
    if output.resolve() == Path(notebook).resolve():
        raise InputError("the output would overwrite the notebook", fix="pick another -o path",
                         path=output)
    write_text(output, script)
    output.chmod(output.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def requirements_text(conversion: Conversion, notebook: Path) -> str:
    header = f"# From the pip install lines of {Path(notebook).name} (freight convert)\n"
    return header + "".join(f"{req}\n" for req in conversion.requirements)


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", fix="check the folder exists and is "
                         "writable", path=path) from exc


def _template() -> jinja2.Template:
    loader = jinja2.PackageLoader("freight", "data")
    environment = jinja2.Environment(
        loader=loader, autoescape=False, trim_blocks=True, keep_trailing_newline=True
    )
    return environment.get_template(TEMPLATE)


# ---- cells ------------------------------------------------------------------------------


def _render_cells(found: NotebookAnalysis, ctx: _Context, markdown: bool) -> list[dict]:
    code = {cell.index: cell for cell in found.cells}
    cells = []
    for index, cell in enumerate(found.notebook.cells):
        rendered = _render_cell(cell, code.get(index), ctx, markdown)
        if rendered is not None:
            cells.append({"number": index + 1, "markdown": cell.cell_type == "markdown",
                          "text": rendered})
    return cells


def _render_cell(cell, parsed: ParsedCell | None, ctx: _Context, markdown: bool) -> str | None:
    if cell.cell_type == "markdown":
        text = cell_text(cell).strip()
        return _comment_block(text) if markdown and text else None
    if parsed is None or not any(line.text.strip() for line in parsed.lines):
        return None
    if parsed.syntax_error is not None:
        return _commented_cell(parsed, parsed.syntax_error, ctx)
    lines = _cell_lines(parsed, ctx)
    text = "\n".join(lines)
    try:
        compile(text, str(ctx.path), "exec", dont_inherit=True)
    except SyntaxError as exc:  # e.g. top-level `await`: parses, but is no script code
        return _commented_cell(parsed, exc, ctx)
    return text


def _comment_block(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.split("\n"))


def _commented_cell(cell: ParsedCell, exc: SyntaxError, ctx: _Context) -> str:
    ctx.at(cell, exc.lineno or 1)
    ctx.warn(f"not valid Python ({exc.msg}): the cell is commented out so the script runs")
    note = f"# freight: commented out, line {exc.lineno or 1} is not valid Python ({exc.msg})"
    return note + "\n" + _comment_block("\n".join(line.text for line in cell.lines))


def _cell_lines(cell: ParsedCell, ctx: _Context) -> list[str]:
    if cell.magic is not None and not cell.body_is_python:
        ctx.at(cell, cell.magic.line_index + 1)
        return _cell_magic(cell, ctx)
    out: list[str] = []
    for lineno, line in enumerate(cell.lines, start=1):
        ctx.at(cell, lineno)
        out += _cell_line(cell, lineno, line, ctx)
    return out


def _cell_line(cell: ParsedCell, lineno: int, line: Line, ctx: _Context) -> list[str]:
    removal = cell.removal_at(lineno)
    if removal is not None:
        return [removed_line(line.text, lineno == removal.first, removal.note)]
    if cell.magic is not None and lineno == cell.magic.line_index + 1:
        return [_python_body_magic(cell.magic.name, cell.magic.args, ctx)]
    if line.kind == "python":
        return [_python_line(line.text, ctx)]
    return _translate(line, ctx)


def _python_line(text: str, ctx: _Context) -> str:
    """`from __future__` must come first in a script: it moves to the top."""
    if _FUTURE.match(text):
        ctx.future_imports.append(text)
        return f"# (moved to the top) {text}"
    return text


def _python_body_magic(name: str, args: str, ctx: _Context) -> str:
    if name == "capture" and args.split() and not args.split()[-1].startswith("-"):
        ctx.warn(f"%%capture {args}: output is not captured, `{args.split()[-1]}` is not set")
    return f"# %%{name} {args}".rstrip() + ": IPython cell magic; its body runs as plain code"


def _needs_display_shim(cells: list[ParsedCell]) -> bool:
    """Whether the notebook calls IPython's built-in display() without importing it."""
    used = bound = False
    for cell in cells:
        if cell.syntax_error is not None:
            continue
        for node in ast.walk(ast.parse("\n".join(neutral_lines(cell)))):
            used |= isinstance(node, ast.Name) and node.id == "display"
            bound |= _binds_display(node)
    return used and not bound


def _binds_display(node: ast.AST) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any((a.asname or a.name) == "display" for a in node.names)
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return node.name == "display"
    return isinstance(node, ast.Name) and node.id == "display" and isinstance(node.ctx, ast.Store)


# ---- line magics and shell lines --------------------------------------------------------


def _translate(line: Line, ctx: _Context) -> list[str]:
    note = line.text.strip()
    if line.kind == "help":
        return [placeholder(line.indent, f"IPython help dropped: {note}")]
    if notebook_shell.is_install_only(line.kind, line.name, line.args):
        return [placeholder(line.indent, f"install (see the requirements at the top): {note}")]
    if line.kind == "shell":
        return _shell(line, line.args, ctx)
    handler = _LINE_MAGICS.get(line.name)
    translated = handler(line, ctx) if handler else None
    if translated is not None:
        return translated
    if line.name in _QUIET_DROPS and not line.target:
        return [placeholder(line.indent, f"IPython only: {note}")]
    ctx.warn(f"IPython magic dropped, no plain-Python equivalent: {note}")
    if line.target:
        return [f"{line.indent}{line.target} = None  # dropped: {note}"]
    return [placeholder(line.indent, f"dropped: {note}")]


def _shell(line: Line, command: str, ctx: _Context) -> list[str]:
    if not command.strip():
        return [placeholder(line.indent, "empty shell line")]
    ctx.imports.update({"subprocess", "sys"})
    words = notebook_shell.simple_words(command)
    comment = []
    if words is not None:
        call = f"subprocess.run([{', '.join(_py_str(w, ctx) for w in words)}]"
    else:
        reason = notebook_shell.shell_reason(command)
        comment = [f"{line.indent}# shell=True: the command {reason}"]
        call = f"subprocess.run({_py_str(command, ctx)}, shell=True"
    if line.target:
        call = f"{line.target} = {call}, capture_output=True, text=True, check=True)"
        return comment + [f"{line.indent}{call}.stdout.splitlines()"]
    return comment + [f"{line.indent}{call}, check=True)"]


def _shell_alias(line: Line, ctx: _Context) -> list[str]:
    """`%ls -l` is `!ls -l`; `%sx cmd` / `%system cmd` is `!cmd`."""
    command = line.args if line.name in {"sx", "system"} else f"{line.name} {line.args}"
    return _shell(line, command.strip(), ctx)


def _time(line: Line, ctx: _Context) -> list[str] | None:
    statement = timed_statement(line)
    if statement is None:
        return None
    return [f"{line.indent}{statement}  # was %{line.name}: runs once, untimed"]


def _cd(line: Line, ctx: _Context) -> list[str] | None:
    words = [w for w in _words(line.args) if w != "-q"]
    if line.target or any(w.startswith("-") for w in words):
        return None  # `%cd -`, `%cd -b bookmark`: IPython's history, nothing to map to
    path = words[0] if len(words) == 1 else (line.args.strip() or "~")
    ctx.imports.add("os")
    expression = _py_str(path, ctx)
    if path.startswith("~") or "$" in path:
        expression = f"os.path.expanduser(os.path.expandvars({expression}))"
    return [f"{line.indent}os.chdir({expression})"]


def _env(line: Line, ctx: _Context) -> list[str] | None:
    if line.target:
        return None
    found = _ENV.match(line.args.strip())
    if found is None:  # `%env` / `%env NAME` only print
        return [placeholder(line.indent, f"IPython only (prints): {line.text.strip()}")]
    name, value = found.group(1), _unquote(found.group(2).strip())
    ctx.imports.add("os")
    return [f'{line.indent}os.environ["{name}"] = {_py_str(value, ctx)}']


def _pwd(line: Line, ctx: _Context) -> list[str]:
    ctx.imports.add("os")
    if line.target:
        return [f"{line.indent}{line.target} = os.getcwd()"]
    return [f"{line.indent}print(os.getcwd())"]


def _run(line: Line, ctx: _Context) -> list[str] | None:
    words = _words(line.args)
    while words and words[0] in _RUN_FLAGS:
        words = words[1:]
    if not words or line.target:
        return None
    ctx.imports.update({"subprocess", "sys"})
    argv = ", ".join(["sys.executable"] + [_py_str(w, ctx) for w in words])
    return [f"{line.indent}# %run: runs in its own process here; names it defines are not shared",
            f"{line.indent}subprocess.run([{argv}], check=True)"]


def _pylab(line: Line, ctx: _Context) -> list[str] | None:
    if line.target:
        return None
    return [f"{line.indent}from pylab import *  # noqa: F403 (what %pylab did)"]


def _tensorflow_version(line: Line, ctx: _Context) -> list[str]:
    ctx.warn(f"{line.text.strip()} dropped: pin tensorflow in the requirements instead")
    return [placeholder(line.indent, f"Colab only: {line.text.strip()}")]


_LINE_MAGICS = {
    "time": _time, "timeit": _time, "cd": _cd, "env": _env, "set_env": _env, "pwd": _pwd,
    "run": _run, "pylab": _pylab, "tensorflow_version": _tensorflow_version,
    **{name: _shell_alias for name in _SHELL_ALIASES},
}


# ---- cell magics whose body is not Python -----------------------------------------------


def _cell_magic(cell: ParsedCell, ctx: _Context) -> list[str]:
    magic = cell.magic
    head = [line.text for line in cell.lines[: magic.line_index]]
    body = "\n".join(line.text for line in cell.lines[magic.line_index + 1 :])
    body = body.rstrip("\n") + "\n"
    title = f"# %%{magic.name} {magic.args}".rstrip()
    program = _script_program(magic.name, magic.args)
    if program is not None:
        ctx.imports.update({"subprocess", "sys"})
        call = f'subprocess.run([{program}, "-c", {_text_block(body)}], check=True)'
        return head + [title, call]
    if magic.name == "writefile":
        return head + [title] + _writefile(magic.args, body, ctx)
    if magic.name not in _DISPLAY_CELL_MAGICS:
        ctx.warn(f"cell magic %%{magic.name} has no plain-Python equivalent: commented out")
    return head + [f"{title}  (dropped: IPython only)", _comment_block(body.rstrip("\n"))]


def _script_program(name: str, args: str) -> str | None:
    """`%%bash` → "bash"; `%%script python3` → sys.executable; None for other magics."""
    words = _words(args)
    if name in _SHELLS and not any(w.startswith("--") for w in words):
        return json.dumps(name)
    if name == "script" and words and words[0] in _SHELLS:
        return json.dumps(words[0])
    return None


def _writefile(args: str, body: str, ctx: _Context) -> list[str]:
    words = _words(args)
    mode = "a" if words and words[0] in {"-a", "--append"} else "w"
    target = " ".join(w for w in words if w not in {"-a", "--append"})
    return [f"with open({_py_str(target, ctx)}, \"{mode}\", encoding=\"utf-8\") as file:",
            f"    file.write({_text_block(body)})"]


# ---- Python literals --------------------------------------------------------------------


def _py_str(text: str, ctx: _Context) -> str:
    """A Python string for a shell word or magic argument; IPython's `{expr}` values become
    an f-string, as IPython put them in before running the line."""
    literal = json.dumps(text, ensure_ascii=False)
    if not _has_python_fields(text):
        return literal
    for candidate in ("f" + literal, "f" + repr(text)):
        if _compiles(candidate):
            return candidate
    ctx.warn(f"`{text}` kept as plain text: its {{...}} values could not be converted")
    return literal


def _has_python_fields(text: str) -> bool:
    if "{" not in text and "}" not in text:
        return False
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:  # unbalanced braces: IPython leaves such text as it is
        return False
    return all(name.strip() for name in fields)


def _compiles(expression: str) -> bool:
    try:
        compile(expression, "<string>", "eval", dont_inherit=True)
    except SyntaxError:
        return False
    return True


def _text_block(text: str) -> str:
    """A readable triple-quoted literal when the text allows one, else an escaped string."""
    if any(bad in text for bad in ('"""', "\\", "\r", "\x00")) or text.endswith('"'):
        return json.dumps(text, ensure_ascii=False)
    return '"""\\\n' + text + '"""'


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _unquote(text: str) -> str:
    words = _words(text)
    return words[0] if len(words) == 1 and text[:1] in "'\"" else text


__all__ = ["Conversion", "convert_notebook", "requirements_text", "write_script", "write_text"]
