"""`freight runs|status|logs|wait|cancel|retry|results`: the same verbs on every target."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from freight.cli.app import app, err, out, print_json
from freight.errors import InputError

# The library (pydantic models, the store, rich tables) is imported inside each command, so
# that `freight deps` and `freight --help` do not pay for it.

RUN_HELP = "Run id or a unique prefix of it (default: the latest run)."


def _open(ref: str | None):
    from freight.runs.store import RunStore

    store = RunStore()
    return store, store.get_run(ref)


@app.command("runs")
def list_runs(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List this project's runs, newest last."""
    from freight.cli.follow import run_record, summary_line
    from freight.runs import watch
    from freight.runs.store import RunStore
    from freight.sched import get_target

    store = RunStore()
    records = store.list_runs()
    rows = []
    for run in records:
        statuses = watch.current_status(store, get_target(run.target), run)
        rows.append((run, statuses))
    if as_json:
        print_json(json.dumps([run_record(r, s) for r, s in rows], indent=1))
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("run", "target", "created", "tasks"):
        table.add_column(column)
    for run, statuses in rows:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
        table.add_row(run.id, run.target, created, summary_line(statuses))
    out.print(table)


@app.command()
def status(
    run: str = typer.Argument(None, help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Where each task of a run stands (from the task state files first, then the scheduler)."""
    from freight.cli.follow import print_status, run_record
    from freight.runs import watch
    from freight.sched import get_target

    store, record = _open(run)
    statuses = watch.current_status(store, get_target(record.target), record)
    if as_json:
        print_json(json.dumps(run_record(record, statuses), indent=1))
    else:
        print_status(record, statuses)


@app.command()
def wait(
    run: str = typer.Argument(None, help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Wait until every task of a run has finished; exit 0 only if all succeeded."""
    from freight.cli.follow import finish_run

    store, record = _open(run)
    raise typer.Exit(finish_run(store, record, wait=True, as_json=as_json))


@app.command()
def cancel(run: str = typer.Argument(None, help=RUN_HELP)) -> None:
    """Stop every unfinished task of a run."""
    from freight.runs import launch

    store, record = _open(run)
    launch.cancel(store, record)
    err.print(f"cancelling run {record.id}")


@app.command()
def retry(
    run: str = typer.Argument(None, help=RUN_HELP),
    wait_: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the retried tasks."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run again the tasks that failed, were cancelled, lost or never started; never a succeeded one."""
    from freight.cli.follow import finish_run
    from freight.runs import launch

    store, record = _open(run)
    indices = launch.retry(store, record)
    if not indices:
        err.print(f"run {record.id}: nothing to retry")
        raise typer.Exit(0)
    err.print(f"run {record.id}: retrying {len(indices)} task(s)")
    raise typer.Exit(finish_run(store, record, wait=wait_, as_json=as_json))


@app.command()
def logs(
    run: str = typer.Argument(None, help=RUN_HELP),
    task: int = typer.Argument(None, help="Task index (default: the first failed task, else 0)."),
    stderr_only: bool = typer.Option(False, "--stderr", help="Only the error log."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing as the task writes."),
) -> None:
    """Print a task's output and error logs."""
    from freight.runs import watch
    from freight.sched import get_target

    store, record = _open(run)
    statuses = watch.current_status(store, get_target(record.target), record)
    index = task if task is not None else _first_failed(statuses)
    if not 0 <= index < len(statuses):
        raise InputError(f"run {record.id} has no task {index}", fix=f"pick 0 to {len(statuses) - 1}")
    files = [record.paths.stderr(index)] if stderr_only else [record.paths.stdout(index), record.paths.stderr(index)]
    if follow:
        _follow(store, record, index, files)
        return
    for path in files:
        if path.exists():
            err.print(f"==> {path} <==", markup=False)
            out.file.write(path.read_text(errors="replace"))
            out.file.flush()


def _first_failed(statuses) -> int:
    return next((s.index for s in statuses if s.state.value in ("failed", "lost")), 0)


def _follow(store, record, index: int, files: list[Path]) -> None:
    from freight.runs import watch
    from freight.sched import get_target

    offsets = {path: 0 for path in files}
    target = get_target(record.target)
    while True:
        for path in files:
            if path.exists():
                with open(path, errors="replace") as handle:
                    handle.seek(offsets[path])
                    chunk = handle.read()
                    offsets[path] = handle.tell()
                if chunk:
                    out.file.write(chunk)
                    out.file.flush()
        status = watch.current_status(store, target, record)[index]
        if status.state.finished:
            return
        time.sleep(0.5)


@app.command()
def results(
    run: str = typer.Argument(None, help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
    plot: Path = typer.Option(None, "--plot", help="Write a plot to this file (.png, .pdf, .svg)."),
    x: str = typer.Option(None, "--x", help="Column on the x axis of --plot."),
    y: str = typer.Option(None, "--y", help="Column on the y axis of --plot."),
) -> None:
    """A table of every task's params and what it reported (freight.report / $FREIGHT_RESULT)."""
    from freight.cli.follow import print_results
    from freight.runs import watch
    from freight.runs.results import results_table
    from freight.sched import get_target

    store, record = _open(run)
    statuses = watch.current_status(store, get_target(record.target), record)
    table = results_table(record, statuses)
    if plot is not None:
        if not x or not y:
            raise InputError("--plot needs --x and --y", fix=f"pick from: {', '.join(table.columns)}")
        err.print(f"wrote {table.plot(x, y, plot)}")
    elif as_json:
        print_json(table.to_json())
    elif as_csv:
        out.file.write(table.to_csv())
    else:
        print_results(record, statuses)
