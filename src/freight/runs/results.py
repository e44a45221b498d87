"""A run's results: one row per task with its params and what it reported, as a table, CSV,
JSON or a plot (`freight results RUN [--csv|--json|--plot FILE --x lr --y loss]`).

What a task reported is its result.json (freight.report) plus its $FREIGHT_RESULT file,
read the same way the task wrapper merges them, so results of a task whose wrapper was killed
before merging still show.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freight.errors import InputError, MissingToolError
from freight.report import collect_results
from freight.runs.store import RunRecord, TaskStatus
from freight.spec.state import TaskState
from freight.spec.sweep import numeric

FIXED_COLUMNS = ("index", "state")
MAX_SERIES = 10  # more combinations than this are drawn as one cloud of points


@dataclass
class ResultTable:
    params: list[str]  # parameter columns, in the sweep's order
    metrics: list[str]  # reported columns, in the order first seen
    rows: list[dict[str, Any]]  # index, state, params..., metrics...

    @property
    def columns(self) -> list[str]:
        return [*FIXED_COLUMNS, *self.params, *self.metrics]

    def to_json(self) -> str:
        """The rows as a JSON list; NaN and infinities become null so any JSON reader copes."""
        return json.dumps([_finite(row) for row in self.rows], indent=1)

    def to_csv(self) -> str:
        """The rows as CSV with a header; lists are written as JSON, missing values empty."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, restval="", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        return buffer.getvalue()

    def plot(self, x: str, y: str, path: Path) -> Path:
        """Draw `y` against `x` (see figure) into `path`; the extension picks the format."""
        return _save(self.figure(x, y), Path(path))

    def figure(self, x: str, y: str):
        """A matplotlib Figure of `y` against `x` over the succeeded tasks: one line per
        combination of the other params that vary, a log x axis when x is spaced geometrically."""
        series, lines = self._series(x, y)
        figure = _matplotlib_figure()(figsize=(6.4, 4.4), layout="constrained")
        axes = figure.add_subplot()
        style = "-" if lines else ""  # no lines through points of unrelated settings
        for label, points in series.items():
            xs, ys = zip(*_sorted_points(points))
            axes.plot(xs, ys, marker="o", linestyle=style, label=label)
        if _geometric([px for points in series.values() for px, _ in points]):
            axes.set_xscale("log")
        axes.set(xlabel=x, ylabel=y)
        if len(series) > 1:
            axes.legend(fontsize="small")
        return figure

    def _series(self, x: str, y: str) -> tuple[dict[str, list[tuple[Any, float]]], bool]:
        """Points by label, and whether each series can be drawn as a line."""
        self._check_column(x)
        self._check_column(y)
        rows = [r for r in self.rows if r["state"] == TaskState.succeeded.value
                and r.get(x) is not None and _is_number(r.get(y))]
        if not rows:
            raise InputError(f"no succeeded task has both {x} and a number for {y}",
                             fix="wait for tasks to succeed, or check `freight results` for the columns")
        varying = [p for p in self.params if p != x and len({_key(r.get(p)) for r in rows}) > 1]
        lines = len({tuple(_key(r.get(p)) for p in varying) for r in rows}) <= MAX_SERIES
        varying = varying if lines else []
        series: dict[str, list[tuple[Any, float]]] = {}
        for row in rows:
            label = ", ".join(f"{p}={row.get(p)}" for p in varying) or y
            as_number = numeric(row[x])  # --sweep values are the strings typed: "1e-3"
            series.setdefault(label, []).append((row[x] if as_number is None else as_number, float(row[y])))
        return series, lines

    def _check_column(self, name: str) -> None:
        if name not in self.columns:
            raise InputError(f"no column {name!r} in the results",
                             fix=f"pick one of: {', '.join(self.columns)}")


def results_table(run: RunRecord, statuses: list[TaskStatus]) -> ResultTable:
    """The table of a run from its tasks' statuses (RunStore.refresh) and result files."""
    params = list(dict.fromkeys(name for s in statuses for name in s.params))
    metrics: dict[str, None] = {}
    rows = []
    for status in statuses:
        row: dict[str, Any] = {"index": status.index, "state": status.state.value, **status.params}
        for name, value in collect_results(run.paths.task_dir(status.index)).items():
            column = name if name not in FIXED_COLUMNS and name not in params else f"result.{name}"
            metrics.setdefault(column)
            row[column] = value
        rows.append(row)
    return ResultTable(params=params, metrics=list(metrics), rows=rows)


def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    except ImportError:
        raise MissingToolError("plotting needs matplotlib, which is not installed",
                               fix="pip install 'freight[plot]'") from None
    return Figure


def check_plot_path(path: Path) -> None:
    """InputError for a path matplotlib would not write as given: a folder, or no extension
    (it would add .png and write somewhere else than the path said)."""
    if path.is_dir():
        raise InputError("is a folder, not a plot file", path=path, fix="give a file name ending in .png, .svg or .pdf")
    if not path.suffix:
        raise InputError("cannot write a plot as a file without extension", path=path,
                         fix="end the file name in .png, .svg or .pdf")


def _save(figure, path: Path) -> Path:
    check_plot_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        figure.savefig(path, dpi=120)
    except ValueError as exc:  # an extension matplotlib cannot write
        raise InputError(f"cannot write a plot as {path.suffix or 'a file without extension'}: {exc}",
                         path=path, fix="end the file name in .png, .svg or .pdf") from None
    return path


def _sorted_points(points: list[tuple[Any, float]]) -> list[tuple[Any, float]]:
    if all(_is_number(px) for px, _ in points):
        return sorted(points, key=lambda point: point[0])
    return [(str(px), py) for px, py in points]  # categories, in the order first seen


def _geometric(values: list[Any]) -> bool:
    """Whether numbers are spread evenly on a log scale rather than a linear one."""
    if not all(_is_number(v) for v in values):
        return False
    xs = sorted(set(map(float, values)))
    if len(xs) < 2 or xs[0] <= 0:
        return False
    if len(xs) == 2:
        return xs[1] / xs[0] >= 10
    return _relative_spread([math.log(v) for v in xs]) < _relative_spread(xs)


def _relative_spread(sorted_values: list[float]) -> float:
    gaps = [b - a for a, b in zip(sorted_values, sorted_values[1:])]
    return statistics.pstdev(gaps) / statistics.fmean(gaps)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
