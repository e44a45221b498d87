"""`freight init`: write a starting freight.toml for a script, notebook or project folder."""

from __future__ import annotations

from pathlib import Path

import typer

from freight.cli.app import app, err, warn


@app.command("init")
def init_command(
    path: Path = typer.Argument(
        Path("."), help="A .py script, an .ipynb notebook or a project folder (default: here)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing freight.toml."),
) -> None:
    """Write freight.toml: the command, the requirements `freight deps` finds, example settings."""
    from freight.spec.init import write_init  # pydantic models: loaded only when used

    result = write_init(path, force=force)
    for note in result.notes:
        warn(note)
    count = len(result.requirements)
    err.print(f"wrote {result.path} ({count} requirement{'s' if count != 1 else ''})", markup=False)
