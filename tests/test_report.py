"""freight.report and the $FREIGHT_RESULT file: what a task measured, as plain JSON."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import numpy
import pytest

from freight.report import collect_results, merge_result_env, parse_result_env, plain_value, report


@pytest.fixture
def task_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FREIGHT_TASK_DIR", str(tmp_path))
    return tmp_path


def test_report_merges_into_result_json(task_dir):
    report(loss=0.5, epoch=1)
    merged = report({"val/loss": 0.7}, loss=0.25, name="run a", ok=True, curve=[1, 2.5])
    expected = {"loss": 0.25, "epoch": 1, "val/loss": 0.7, "name": "run a", "ok": True, "curve": [1, 2.5]}
    assert merged == expected
    assert json.loads((task_dir / "result.json").read_text()) == expected


def test_numpy_values_become_plain_numbers_and_lists(task_dir):
    report(acc=numpy.float32(0.5), steps=numpy.int64(7), good=numpy.bool_(True), w=numpy.array([[1, 2]]))
    saved = json.loads((task_dir / "result.json").read_text())
    assert saved == {"acc": 0.5, "steps": 7, "good": True, "w": [[1, 2]]}
    assert type(plain_value("steps", numpy.int64(7))) is int


def test_values_that_are_not_json_data_are_refused_by_name(task_dir):
    with pytest.raises(TypeError, match=r"freight.report: model=.* is a object"):
        report(model=object())
    assert not (task_dir / "result.json").exists()


def test_outside_a_task_metrics_stay_in_memory_with_one_note(tmp_path, monkeypatch, capsys):
    report_module = importlib.import_module("freight.report")  # the module, even where
    monkeypatch.delenv("FREIGHT_TASK_DIR", raising=False)  # freight/__init__ exports report()
    monkeypatch.setattr(report_module, "_outside_task", {})
    monkeypatch.setattr(report_module, "_noted_outside", False)
    monkeypatch.chdir(tmp_path)
    report(loss=1.0)
    assert report(acc=0.9) == {"loss": 1.0, "acc": 0.9}
    assert capsys.readouterr().err.count("not inside a freight task") == 1
    assert list(tmp_path.iterdir()) == []


def test_result_file_as_key_value_lines():
    text = """
        # written by a shell script
        acc=0.5
        export steps=10
        name=hello world
        quoted='keep "this" as text'
        flags=[1, 2]
        done=true
        not a pair
    """
    assert parse_result_env(text) == {"acc": 0.5, "steps": 10, "name": "hello world",
                                      "quoted": 'keep "this" as text', "flags": [1, 2], "done": True}


def test_result_file_as_one_json_object():
    assert parse_result_env('{"gflops": 12.5, "n": 3}\n') == {"gflops": 12.5, "n": 3}
    assert parse_result_env("{broken=1") == {"{broken": 1}  # not JSON: read as lines


def test_merge_folds_the_result_file_into_result_json(tmp_path):
    (tmp_path / "result.json").write_text('{"loss": 0.1, "acc": 0.2}')
    (tmp_path / "result.env").write_text("acc=0.9\n")
    assert collect_results(tmp_path) == {"loss": 0.1, "acc": 0.9}
    assert merge_result_env(tmp_path) == {"loss": 0.1, "acc": 0.9}
    assert json.loads((tmp_path / "result.json").read_text()) == {"loss": 0.1, "acc": 0.9}


def test_no_results_is_an_empty_dict(tmp_path):
    assert collect_results(tmp_path) == {} == merge_result_env(tmp_path)
    assert not (tmp_path / "result.json").exists()


def test_importing_report_stays_light():
    code = "import sys, freight.report; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.check_output([sys.executable, "-c", code], text=True).split())
    assert not {"pydantic", "typer", "rich", "numpy", "jinja2"} & loaded
