"""Shared helper for the docs/ guide tests: every command a guide shows is run by a test.

A guide marks what the reader types as ```console blocks whose command lines start with "$ ";
lines without the prompt are the output the reader should see (not checked here: each guide's
test checks what matters). `freight …` commands are run for real (`python -m freight`, this
interpreter); other commands (condor_submit, ngc, podman …) are the seed's manual steps that
freight replaces, and a guide's test decides what to do with them (usually: nothing, they
need the site).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def console_commands(page: str | Path) -> list[str]:
    """The "$ " lines of the page's ```console blocks, in order (a trailing backslash joins lines)."""
    text = (DOCS / page).read_text(encoding="utf-8") if not Path(page).is_absolute() else Path(page).read_text()
    commands: list[str] = []
    for block in _BLOCK.findall(text):
        pending = ""
        for line in block.splitlines():
            if pending:
                pending += " " + line.strip()
            elif line.startswith("$ "):
                pending = line[2:].strip()
            if pending and pending.endswith("\\"):
                pending = pending[:-1].rstrip()
                continue
            if pending:
                commands.append(pending)
                pending = ""
    return commands


def freight_commands(page: str | Path) -> list[list[str]]:
    """The page's `freight …` commands as argv lists (shell words, no shell)."""
    return [shlex.split(command) for command in console_commands(page) if command.startswith("freight ")]


def run_freight(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one `freight …` argv from a guide in `cwd` with this interpreter."""
    assert argv[0] == "freight", argv
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "freight", *argv[1:]], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
