"""The `freight` command line. See cli/app.py for the app; one module per command group.

Exit codes: 0 success, 1 the work itself failed (a task failed, a check found problems),
2 bad input (a one-line message says what and how to fix it), 130 interrupted.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["deps"]:
        # `freight deps` runs over many folders in a row: its plain arguments skip typer, rich
        # and pydantic (~0.2 s of imports); anything else (--help, errors) goes to typer.
        from freight.cli.deps_fast import main_fast

        code = main_fast(args[1:])
        if code is not None:
            return code
    return run_app(args)


def load_app():
    """The typer app with every command registered (imported on use, not with this package)."""
    from freight.cli.app import app

    # Importing a command module registers its commands on `app`.
    from freight.cli import deps as _deps  # noqa: F401
    from freight.cli import convert as _convert  # noqa: F401
    from freight.cli import init as _init  # noqa: F401
    from freight.cli import run as _run  # noqa: F401
    from freight.cli import runs as _runs  # noqa: F401
    from freight.cli import script as _script  # noqa: F401
    from freight.cli import shell as _shell  # noqa: F401
    from freight.cli import profiles as _profiles  # noqa: F401
    from freight.cli import doctor as _doctor  # noqa: F401
    from freight.cli import bench as _bench  # noqa: F401
    from freight.cli import image as _image  # noqa: F401
    from freight.cli import image_build as _image_build  # noqa: F401

    return app


def run_app(args: list[str]) -> int:
    """Run the typer app on `args`; errors become one line and an exit code."""
    import typer
    from typer.exceptions import TyperException

    from freight.cli.app import err, state
    from freight.errors import FreightError

    app = load_app()
    state.debug = "--debug" in args
    try:
        result = app(args=args, prog_name="freight", standalone_mode=False)
    except FreightError as exc:
        if state.debug:
            raise
        err.print(f"freight: error: {exc.one_line()}", markup=False, highlight=False, emoji=False)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except TyperException as exc:
        if getattr(exc, "ctx", None) is None:  # not a usage error: typer's own printing
            exc.show()
            return exc.exit_code
        if exc.format_message():  # empty: no arguments, and the help was printed instead
            err.print(f"freight: error: {usage_error_line(exc)}", markup=False, highlight=False, emoji=False)
        return exc.exit_code
    except typer.Abort:
        return 130
    except KeyboardInterrupt:
        err.print("freight: interrupted")
        return 130
    return result if isinstance(result, int) else 0


def usage_error_line(exc) -> str:
    """A usage error (unknown option, bad choice, missing argument) as one line, like every
    other error: click's message may hold newlines and tabs, and typer's checks add a
    "Value error, " prefix."""
    message = " ".join(exc.format_message().replace("Value error, ", "").split()).rstrip(".")
    return f"{message} (fix: see `{exc.ctx.command_path} --help`)"


def __getattr__(name: str):
    if name == "app":  # `from freight.cli import app` keeps working
        return load_app()
    raise AttributeError(f"module 'freight.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
