"""`freight deps` without typer, rich or pydantic: the command's work and its quick start.

`freight deps` is run over many folders in a row (and measured against pipreqs), so its
start-up counts: importing typer, rich and pydantic takes ~0.2 s, several times the scan
of a small project. `main_fast` reads the plain forms of the command's arguments itself and
runs `run_deps`; for anything else (--help, a bad value, an unknown option, --debug) it
returns None and the typer command (cli/deps.py) handles the arguments, with its usage
messages. Both end in `run_deps`, so they print the same.

Output is written as plain text: results to stdout, warnings and messages to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from freight.errors import FreightError, InputError

MAX_WARNINGS = 50  # more would drown the output; --format json lists them all
FORMATS = ("txt", "json")
PIN_MODES = ("none", "local")

# The options of cli/deps.py's typer command: flag -> (keyword, allowed values or None).
# tests/cli/test_deps_cli.py checks that this table and the typer command agree.
VALUE_OPTIONS = {
    "--format": ("fmt", FORMATS), "-f": ("fmt", FORMATS),
    "--pin": ("pin", PIN_MODES),
    "--output": ("output", None), "-o": ("output", None),
}
FLAG_OPTIONS = {"--check": ("check", True), "--optional": ("optional", True),
                "--no-optional": ("optional", False)}
DEFAULTS = {"path": ".", "fmt": "txt", "pin": "none", "output": None, "check": False,
            "optional": True}


def main_fast(args: list[str]) -> int | None:
    """Run `freight deps ARGS` when the arguments are plain; None to leave them to typer."""
    parsed = parse_args(args)
    if parsed is None:
        return None
    try:
        return run_deps(**parsed)
    except FreightError as exc:
        sys.stderr.write(f"freight: error: {exc.one_line()}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("freight: interrupted\n")
        return 130


def parse_args(args: list[str]) -> dict | None:
    """The command's keyword arguments, or None when typer should read `args` itself."""
    found, positional, rest = dict(DEFAULTS), [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            positional += rest
            break
        if arg in FLAG_OPTIONS:
            key, value = FLAG_OPTIONS[arg]
            found[key] = value
        elif arg.startswith("-") and arg != "-":
            if not _take_value(arg, rest, found):
                return None
        else:
            positional.append(arg)
    if len(positional) > 1:
        return None
    if positional:
        found["path"] = positional[0]
    return found


def _take_value(arg: str, rest: list[str], found: dict) -> bool:
    """Read `--opt VALUE`, `--opt=VALUE`, `-oVALUE`; False for what typer should handle."""
    if arg in VALUE_OPTIONS:
        if not rest:
            return False
        name, value = arg, rest.pop(0)
    elif arg.startswith("--") and "=" in arg:
        name, value = arg.split("=", 1)
    elif not arg.startswith("--") and arg[:2] in VALUE_OPTIONS:
        name, value = arg[:2], arg[2:]
    else:
        return False
    if name not in VALUE_OPTIONS:
        return False
    key, allowed = VALUE_OPTIONS[name]
    if allowed is not None and value not in allowed:
        return False
    found[key] = value
    return True


def run_deps(path, fmt: str, pin: str, output, check: bool, optional: bool) -> int:
    """Analyze `path` and print the answer; the exit code (1 when --check finds problems)."""
    from freight.deps.analyze import analyze

    report = analyze(Path(path), pin=pin, cache=True)
    _print_warnings(report.warnings)
    if fmt == "json":
        import json

        text = json.dumps(report.to_json(), indent=2) + "\n"
    else:
        text = report.requirements_txt(include_optional=optional)
    if output is not None:
        _write(Path(output), text)
        _message(f"wrote {output} ({len(report.requirements)} requirements)")
    elif not check or fmt == "json":
        _stdout(text)
    if check:
        return _print_check(report, to_stdout=fmt == "txt")
    return 0


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _message(line: str) -> None:
    sys.stderr.write(line + "\n")


def _warn(message: str) -> None:
    if sys.stderr.isatty():  # a person reads it: in the CLI's colours (rich, loaded only now)
        from freight.cli.app import warn

        warn(message)
    else:
        sys.stderr.write(f"warning: {message}\n")


def _print_warnings(warnings: list[str]) -> None:
    for message in warnings[:MAX_WARNINGS]:
        _warn(message)
    if len(warnings) > MAX_WARNINGS:
        _warn(f"... and {len(warnings) - MAX_WARNINGS} more (see --format json)")


def _print_check(report, to_stdout: bool) -> int:
    lines = [
        f"undeclared: {p.name} (imported at {', '.join(p.sources[:3])})"
        for p in report.undeclared_imports
    ]
    lines += [
        f"unused: {d.name} (declared at {d.location}, never imported)"
        for d in report.unused_declared
    ]
    if not report.has_declarations and report.undeclared_imports:
        lines.append("no requirements file, pyproject.toml or environment.yml declares anything")
    for line in lines:
        _stdout(line + "\n") if to_stdout else _message(line)
    if report.check_ok:
        _message("check: declarations and imports agree")
        return 0
    return 1


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot write ({exc.strerror})", fix="choose a writable path for -o", path=path
        ) from exc
