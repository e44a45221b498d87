"""`freight deps`: the requirements of a script, a notebook or a project folder.

This is the typer command (help, usage errors); plain invocations skip typer and are read
by cli/deps_fast.py, which also does the work for both (`run_deps`)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from freight.cli.app import app
from freight.cli.deps_fast import FORMATS, PIN_MODES, run_deps

# The choices come from deps_fast, which reads the same options without typer.
Format = Enum("Format", {name: name for name in FORMATS}, type=str)
PinMode = Enum("PinMode", {name: name for name in PIN_MODES}, type=str)


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
    return run_deps(path, fmt.value, pin.value, output, check, optional)
