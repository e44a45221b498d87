"""`freight convert`: a notebook → a script that runs under plain python."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from freight.cli.app import app, err, out, warn


@app.command()
def convert(
    notebook: Path = typer.Argument(
        ..., help="The notebook (.ipynb from Jupyter or Colab; nbformat v3 or v4)."
    ),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Write the script to this file and make it executable "
        "(default: print it to stdout).",
    ),
    requirements: Optional[Path] = typer.Option(
        None, "--requirements", "-r", metavar="FILE",
        help="Also write the notebook's `pip install` requirements (pins kept) to FILE, one "
        "per line, e.g. requirements.txt next to the script.",
    ),
    markdown: bool = typer.Option(
        True, "--markdown/--no-markdown", help="Keep markdown cells as comments."
    ),
) -> None:
    """Turn a notebook into a Python script that runs without Jupyter.

    `!pip install` lines: requirements, listed at the top (and in FILE, -r).
    `!cmd`: a checked subprocess.run; `%cd`, `%env`, `%%writefile`: Python.
    Other magics, get_ipython() and Colab's drive.mount: commented out.
    Cells that are not valid Python are commented out, so the script runs.
    Each change that needs a look is one warning line on stderr.
    Exit codes: 0 converted (even with warnings), 2 notebook missing or bad.
    """
    # nbformat takes a tenth of a second to import: only commands that read notebooks pay it.
    from freight.deps.convert import convert_notebook, requirements_text, write_script, write_text

    name = output.name if output is not None else None
    conversion = convert_notebook(notebook, markdown=markdown, script_name=name)
    for message in conversion.warnings:
        warn(message)
    if requirements is not None:
        write_text(requirements, requirements_text(conversion, notebook))
    if output is None:
        out.print(conversion.script, end="", markup=False, highlight=False)
        return
    write_script(conversion.script, output, notebook)
    err.print(f"wrote {output}", markup=False, highlight=False)
