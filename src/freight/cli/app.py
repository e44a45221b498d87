"""The Typer application and the consoles every command prints with.

Command modules (cli/deps.py, cli/run.py, ...) import `app` from here and register their
commands on it; they parse arguments, call the library and print. No logic lives here.
"""

from __future__ import annotations

import os

import typer
from rich.console import Console

app = typer.Typer(
    name="freight",
    help="Ship a script, project folder or notebook to where it should run, and track it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# stdout carries results (requirements, JSON, scripts); everything for a human goes to stderr.
out = Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)
err = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)


class _State:
    debug = False


state = _State()


def _print_version(value: bool) -> None:
    if value:
        from freight import __version__

        out.print(f"freight {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version."
    ),
) -> None:
    """freight: from a researcher's workload to running jobs, on this machine or a cluster."""
    state.debug = debug


def print_json(text: str) -> None:
    """JSON text on stdout as it is. Not through rich: it would turn `:name:` in any value
    (a sweep value, a log tail) into an emoji, and takes ~0.15 s for a 1,000-task record."""
    out.file.write(text + "\n")
    out.file.flush()


def warn(message: str) -> None:
    """One warning line on stderr; never markup-interpreted, since it quotes user paths."""
    err.print(f"warning: {message}", markup=False, highlight=False, style="yellow")
