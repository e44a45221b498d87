"""The `freight` command line. See cli/app.py for the app; one module per command group.

Exit codes: 0 success, 1 the work itself failed (a task failed, a check found problems),
2 bad input (a one-line message says what and how to fix it), 130 interrupted.
"""

from __future__ import annotations

import sys

import typer
from typer.exceptions import TyperException

from freight.cli.app import app, err, state
from freight.errors import FreightError

# Importing a command module registers its commands on `app`.
from freight.cli import deps as _deps  # noqa: F401,E402
from freight.cli import convert as _convert  # noqa: F401,E402
from freight.cli import init as _init  # noqa: F401,E402
from freight.cli import run as _run  # noqa: F401,E402
from freight.cli import runs as _runs  # noqa: F401,E402


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    state.debug = "--debug" in args
    try:
        result = app(args=args, prog_name="freight", standalone_mode=False)
    except FreightError as exc:
        if state.debug:
            raise
        err.print(f"freight: error: {exc.one_line()}", markup=False, highlight=False)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except TyperException as exc:  # usage errors: typer prints them with the usage line
        exc.show()
        return exc.exit_code
    except typer.Abort:
        return 130
    except KeyboardInterrupt:
        err.print("freight: interrupted")
        return 130
    return result if isinstance(result, int) else 0


__all__ = ["app", "main"]
