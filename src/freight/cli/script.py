"""`freight script`: print (or write) the scheduler scripts `freight run` would submit."""

from __future__ import annotations

from pathlib import Path

import typer

from freight.cli.app import app, err, out, warn
from freight.cli.options import borrow_options, option
from freight.cli.run import RUN_SETTINGS, run

# Options of `freight run` that only matter once tasks run.
RUN_ONLY = ("wait", "dry_run", "as_json", "smoke_first")


@app.command(context_settings=RUN_SETTINGS)
@borrow_options(run, drop=RUN_ONLY, extra=[option("output", Path, typer.Option(
    None, "--output", "-o", help="Write the scripts into this folder instead of printing them."))])
def script(**params) -> None:
    """Print the scheduler script(s) `freight run` would submit with the same options; submit nothing.

    Options go before the script, as for `freight run`: `freight script -o DIR --target slurm train.py`.
    """
    from freight.cli.run import run_request
    from freight.runs import launch, preview
    from freight.runs.layout import freight_home

    home = freight_home()
    job, config, notes = launch.build_job(run_request(params), home)
    for note in notes:
        warn(note)
    run_draft, files = preview.render_scripts(job, config.target, home)
    if params["output"] is not None:
        _write(files, params["output"])
    else:
        _print(files)
    err.print(f"not submitted: {len(job.tasks)} task(s) on {config.target}, as run {run_draft.id} "
              f"(a draft: `freight run` draws a new id)", markup=False, highlight=False)


def _print(files: dict[str, str]) -> None:
    """One file: its text alone (pipe it to sbatch); several: each after a `# ==> NAME <==` line."""
    for name, text in files.items():
        if len(files) > 1:
            out.file.write(f"# ==> {name} <==\n")
        out.file.write(text if text.endswith("\n") else text + "\n")
    out.file.flush()


def _write(files: dict[str, str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        if path.suffix in (".sh", ".sbatch"):
            path.chmod(0o755)
        err.print(f"wrote {path}", markup=False, highlight=False)
