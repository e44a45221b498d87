"""Errors a user can act on.

Every FreightError carries what went wrong, where (a file, when there is one) and how to fix
it. The CLI prints it as one line and exits with code 2; only `--debug` shows a traceback.
"""

from __future__ import annotations

from pathlib import Path

EXIT_BAD_INPUT = 2


class FreightError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problem: str, *, fix: str = "", path: str | Path | None = None):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.path = str(path) if path is not None else None

    def one_line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{where}{self.problem}{fix}".replace("\n", " ")


class ConfigError(FreightError):
    """An invalid freight.toml, sweep or command-line value."""


class InputError(FreightError):
    """A path that does not exist, a file that cannot be read, a notebook that is not one."""


class MissingToolError(FreightError):
    """An engine, scheduler or program freight needs is not installed here."""
