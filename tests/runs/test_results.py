"""A run's results table: params and reported metrics per task, as CSV, JSON and a real PNG."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest

from freight.errors import InputError, MissingToolError
from freight.fsutil import write_json_atomic
from freight.runs.results import ResultTable, _geometric, results_table
from freight.runs.store import RunStore
from freight.spec.job import Job, Task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LRS = (1e-4, 1e-3, 1e-2, 1e-1)


@pytest.fixture
def sweep(tmp_path: Path):
    """A finished lr x batch sweep: each task reported loss (and one failed)."""
    store = RunStore(tmp_path / ".freight")
    rows = [{"lr": lr, "batch": batch} for batch in (16, 32) for lr in LRS]
    job = Job(name="sweep", command=["true"], workdir=str(tmp_path),
              tasks=[Task(index=i, params=p) for i, p in enumerate(rows)])
    run = store.create_run(job, "local")
    for index, params in enumerate(rows):
        failed = index == len(rows) - 1
        _finish(run, index, "failed" if failed else "succeeded")
        if not failed:
            loss = params["lr"] * 10 + params["batch"] / 100
            write_json_atomic(run.paths.result(index), {"loss": loss, "acc": 1 - loss, "lr": "x"})
    (run.paths.task_dir(0) / "result.env").write_text("gflops=12.5\n")  # a killed wrapper's leftover
    return results_table(run, store.refresh(run.id))


def test_rows_hold_index_state_params_and_metrics(sweep):
    assert sweep.params == ["lr", "batch"]
    assert sweep.metrics == ["acc", "loss", "result.lr", "gflops"]  # "lr" is a param's name
    assert sweep.columns == ["index", "state", "lr", "batch", "acc", "loss", "result.lr", "gflops"]
    first, last = sweep.rows[0], sweep.rows[-1]
    assert first == {"index": 0, "state": "succeeded", "lr": 1e-4, "batch": 16,
                     "loss": pytest.approx(0.161), "acc": pytest.approx(0.839), "result.lr": "x",
                     "gflops": 12.5}
    assert last == {"index": 7, "state": "failed", "lr": 0.1, "batch": 32}


def test_csv_has_a_header_and_one_line_per_task(sweep):
    parsed = list(csv.DictReader(io.StringIO(sweep.to_csv())))
    assert len(parsed) == 8 and list(parsed[0]) == sweep.columns
    assert parsed[0]["lr"] == "0.0001" and parsed[0]["gflops"] == "12.5"
    assert parsed[7]["state"] == "failed" and parsed[7]["loss"] == ""


def test_json_is_strict_json(sweep):
    sweep.rows[1]["loss"] = float("nan")
    sweep.rows[1]["curve"] = [1.0, float("inf")]
    parsed = json.loads(sweep.to_json(), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert parsed[1]["loss"] is None and parsed[1]["curve"] == [1.0, None]
    assert parsed[0]["lr"] == 1e-4


def test_plot_writes_a_png(sweep, tmp_path):
    path = sweep.plot("lr", "loss", tmp_path / "plots" / "loss.png")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_plot_draws_one_log_scaled_line_per_other_setting(sweep):
    axes = sweep.figure("lr", "loss").axes[0]
    assert axes.get_xscale() == "log"
    assert sorted(line.get_label() for line in axes.get_lines()) == ["batch=16", "batch=32"]
    batch16 = next(line for line in axes.get_lines() if line.get_label() == "batch=16")
    assert list(batch16.get_xdata()) == list(LRS)  # sorted by x, failed task left out
    assert axes.get_xlabel() == "lr" and axes.get_ylabel() == "loss"


def test_plot_against_a_linear_param_keeps_a_linear_axis(sweep):
    axes = sweep.figure("batch", "acc").axes[0]
    assert axes.get_xscale() == "linear"
    assert len(axes.get_lines()) == 4  # one per lr


def test_plot_writes_svg_too_and_refuses_unknown_formats(sweep, tmp_path):
    assert sweep.plot("lr", "loss", tmp_path / "loss.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(InputError, match="cannot write a plot"):
        sweep.plot("lr", "loss", tmp_path / "loss.nope")


def test_unknown_columns_and_no_data_are_one_line_errors(sweep):
    with pytest.raises(InputError, match="no column 'los'") as error:
        sweep.plot("lr", "los", Path("x.png"))
    assert "loss" in error.value.fix
    with pytest.raises(InputError, match="no succeeded task has both lr and a number for result.lr"):
        sweep.figure("lr", "result.lr")


def test_missing_matplotlib_names_the_extra(sweep, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if it were not installed
    with pytest.raises(MissingToolError) as error:
        sweep.plot("lr", "loss", tmp_path / "loss.png")
    assert error.value.fix == "pip install 'freight[plot]'"


def test_categorical_x_is_plotted_in_order_seen():
    rows = [{"index": i, "state": "succeeded", "opt": opt, "loss": v}
            for i, (opt, v) in enumerate([("sgd", 0.5), ("adam", 0.2)])]
    axes = ResultTable(params=["opt"], metrics=["loss"], rows=rows).figure("opt", "loss").axes[0]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["sgd", "adam"]


@pytest.mark.parametrize(
    ("values", "log"),
    [(LRS, True), ([1, 2, 3, 4, 5], False), ([0.001, 0.1], True), ([1, 2], False),
     ([0, 1, 10, 100], False), (["a", "b"], False), ([2, 4, 8, 16, 32, 64], True)],
)
def test_log_axis_only_for_geometric_spacing(values, log):
    assert _geometric(list(values)) is log


def _finish(run, index: int, state: str) -> None:
    now = time.time()
    write_json_atomic(run.paths.state(index), {
        "state": state, "index": index, "attempt": 1, "host": os.uname().nodename,
        "exit_code": 0 if state == "succeeded" else 1, "started": now, "ended": now})


def test_sweep_values_typed_as_strings_are_plotted_as_numbers():
    """`--sweep lr=1e-3,1e-1,1e-2` keeps the typed strings; the plot still sorts and log-scales them."""
    rows = [{"index": i, "state": "succeeded", "lr": lr, "loss": loss}
            for i, (lr, loss) in enumerate([("1e-3", 0.3), ("1e-1", 0.1), ("1e-2", 0.2)])]
    figure = ResultTable(params=["lr"], metrics=["loss"], rows=rows).figure("lr", "loss")
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    assert list(axes.lines[0].get_xdata()) == [0.001, 0.01, 0.1]
