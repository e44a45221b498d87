"""`freight deps`: the requirements of a script, a notebook or a project folder."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from freight.cli.app import app, err, out, warn
from freight.errors import InputError

MAX_WARNINGS = 50  # more would drown the output; --format json lists them all


class Format(str, Enum):
    txt = "txt"
    json = "json"


class PinMode(str, Enum):
    none = "none"
    local = "local"


@app.command()
def deps(
    path: Path = typer.Argument(
        Path("."), help="A script (.py), a notebook (.ipynb) or a project folder."
    ),
    fmt: Format = typer.Option(
        Format.txt, "--format", "-f",
        help="txt: requirements.txt; json: every requirement with where it was found and why.",
    ),
    pin: PinMode = typer.Option(
        PinMode.none, "--pin",
        help="none: names (and declared pins); local: pin to the versions installed here.",
    ),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Write to FILE instead of stdout."
    ),
    check: bool = typer.Option(
        False, "--check",
        help="List imports nothing declares and declared packages nothing imports; exit 1 if any.",
    ),
    optional: bool = typer.Option(
        True, "--optional/--no-optional",
        help="End the txt output with the commented '# optional:' block.",
    ),
) -> int:
    """Print the requirements a workload needs, as requirements.txt (or JSON).

    Found from the imports of every .py file and notebook, mapped to
    distributions (freight's curated table, then the installed environment),
    and from the declared files: requirements*.txt, pyproject.toml,
    setup.py/cfg, Pipfile, environment.yml, a `conda list -e` export.
    Output: the declared requirements (their pins kept) plus the imported ones.

    Hard needs come first. Then a '# optional:' block, commented out so that
    `pip install -r` skips it, lists what is only imported under
    try/except ImportError, if TYPE_CHECKING, a find_spec guard or a platform
    check; in tests, docs, examples, setup.py or vendored code; lazily inside
    a library's functions; or declared as an extra or dev dependency.

    A file that cannot be read or parsed, a file over 10 MB, a symlink loop:
    one warning line each on stderr, and the rest is still scanned.
    Exit codes: 0 done, 1 --check found problems, 2 bad input. Offline.
    """
    from freight.deps.analyze import analyze

    report = analyze(path, pin=pin.value)
    _print_warnings(report.warnings)
    if fmt is Format.json:
        text = json.dumps(report.to_json(), indent=2) + "\n"
    else:
        text = report.requirements_txt(include_optional=optional)
    if output is not None:
        _write(output, text)
        message = f"wrote {output} ({len(report.requirements)} requirements)"
        err.print(message, markup=False, highlight=False)
    elif not check or fmt is Format.json:
        out.print(text, end="", markup=False, highlight=False)
    if check:
        return _print_check(report, fmt is Format.txt)
    return 0


def _print_warnings(warnings: list[str]) -> None:
    for message in warnings[:MAX_WARNINGS]:
        warn(message)
    if len(warnings) > MAX_WARNINGS:
        warn(f"... and {len(warnings) - MAX_WARNINGS} more (see --format json)")


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
    console = out if to_stdout else err
    for line in lines:
        console.print(line, markup=False, highlight=False)
    if report.check_ok:
        err.print("check: declarations and imports agree", markup=False, highlight=False)
        return 0
    return 1


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot write ({exc.strerror})", fix="choose a writable path for -o", path=path
        ) from exc
