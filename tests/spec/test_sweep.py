"""Sweeps: --sweep specs, ranges, zip, random search, sweep files, and every bad input."""

import json
import math

import pytest

from freight.errors import ConfigError, FreightError, InputError
from freight.spec.job import Job, Task
from freight.task import fill_placeholders
from freight.spec.sweep import MAX_TASKS, expand_params, expand_sweep, numeric, parse_sweep_arg


def params(tasks: list[Task]) -> list[dict]:
    return [task.params for task in tasks]


def error_of(**kwargs) -> str:
    with pytest.raises(FreightError) as caught:
        expand_sweep(**kwargs)
    line = caught.value.one_line()
    assert "\n" not in line
    return line


# ---------------------------------------------------------------- lists, grid, zip


def test_no_sweep_is_one_task_with_no_params():
    assert expand_sweep([]) == [Task(index=0, params={})]


def test_grid_is_the_product_in_order_given_last_name_fastest():
    tasks = expand_sweep(["lr=0.1,0.01", "batch=32,64,128"])
    assert [task.index for task in tasks] == list(range(6))
    assert params(tasks)[:4] == [
        {"lr": "0.1", "batch": "32"},
        {"lr": "0.1", "batch": "64"},
        {"lr": "0.1", "batch": "128"},
        {"lr": "0.01", "batch": "32"},
    ]


def test_zip_pairs_values_by_position():
    tasks = expand_sweep(["lr=0.1,0.01", "batch=32,64"], zip_=True)
    assert params(tasks) == [{"lr": "0.1", "batch": "32"}, {"lr": "0.01", "batch": "64"}]


def test_cli_values_stay_the_exact_text_typed():
    tasks = expand_sweep(["lr=1e-3,0.10", "seed=007", "flag=true"])
    first = tasks[0].params
    assert first == {"lr": "1e-3", "seed": "007", "flag": "true"}
    argv = fill_placeholders(["train.py", "--lr={lr}", "{seed}", "{flag}"], first)
    assert argv == ["train.py", "--lr=1e-3", "007", "true"]


@pytest.mark.parametrize(
    "value, number",
    [("1e-3", 0.001), ("007", 7), ("-2", -2), (0.5, 0.5), (3, 3), ("adam", None), ("nan", None),
     (True, None), ("true", None), (math.inf, None), ("", None)],
)
def test_numeric_reads_string_values_as_numbers(value, number):
    assert numeric(value) == number
    assert type(numeric(value)) is type(number)


def test_shell_metacharacters_reach_the_program_as_one_literal_argument():
    tasks = expand_sweep(["msg=a b; rm -rf ~,$(id)"])
    argv = [fill_placeholders(["echo", "{msg}"], task.params) for task in tasks]
    assert argv == [["echo", "a b; rm -rf ~"], ["echo", "$(id)"]]


def test_backslash_comma_is_a_comma_inside_a_value():
    assert params(expand_sweep([r"opt=a\,b,c"])) == [{"opt": "a,b"}, {"opt": "c"}]


def test_an_equals_sign_inside_a_value_is_kept():
    assert params(expand_sweep(["arg=x=1,y=2"])) == [{"arg": "x=1"}, {"arg": "y=2"}]


def test_tasks_serialise_into_the_job_model():
    tasks = expand_sweep(["lr=log:1e-4:1e-1:4", "flag=on"])
    job = Job(name="j", command=["python", "t.py"], workdir=".", tasks=tasks)
    dumped = json.loads(job.model_dump_json())
    assert dumped["tasks"][3]["params"] == {"lr": 0.1, "flag": "on"}
    assert job.param_names() == ["lr", "flag"]


# ---------------------------------------------------------------- ranges


def test_log_range_is_inclusive_and_tidy():
    values = [task.params["lr"] for task in expand_sweep(["lr=log:1e-4:1e-1:4"])]
    assert values == [0.0001, 0.001, 0.01, 0.1]


def test_lin_range_rounds_away_float_noise():
    values = [task.params["p"] for task in expand_sweep(["p=lin:0:1:11"])]
    assert values == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert all(isinstance(value, float) for value in values)


def test_integer_bounds_with_whole_values_give_ints():
    assert [t.params["b"] for t in expand_sweep(["b=log:16:256:5"])] == [16, 32, 64, 128, 256]
    assert [t.params["n"] for t in expand_sweep(["n=lin:0:100:3"])] == [0, 50, 100]
    assert all(type(t.params["b"]) is int for t in expand_sweep(["b=log:16:256:5"]))


def test_range_follows_python_range():
    assert [t.params["s"] for t in expand_sweep(["s=range:0:10:3"])] == [0, 3, 6, 9]
    assert [t.params["s"] for t in expand_sweep(["s=range:3"])] == [0, 1, 2]
    assert [t.params["s"] for t in expand_sweep(["s=range:3:0:-1"])] == [3, 2, 1]


def test_one_count_gives_the_start():
    assert params(expand_sweep(["lr=log:0.01:1:1"])) == [{"lr": 0.01}]


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("lr=log:0:1:5", "above 0"),
        ("lr=log:-1:1:5", "above 0"),
        ("lr=log:1e-4:x:5", "'x' is not a number"),
        ("lr=lin:0:1:0", "count must be a whole number"),
        ("lr=lin:0:1:2.5", "count must be a whole number"),
        ("lr=lin:0", "START:STOP:COUNT"),
        ("lr=lin:0:inf:3", "finite"),
        ("s=range:0:10:0", "non-zero step"),
        ("s=range:10:0", "empty"),
        ("s=range:a", "whole numbers"),
        ("s=range:1:2:3:4", "range:START:STOP:STEP"),
    ],
)
def test_bad_ranges_are_one_line_errors(spec, expected):
    line = error_of(specs=[spec])
    assert f"bad range {spec}" in line
    assert expected in line


def test_a_range_must_be_the_only_value():
    assert "mixes a range with other values" in error_of(specs=["lr=log:1e-4:1e-1:3,0.5"])


def test_continuous_range_in_a_grid_asks_for_a_count_or_random():
    line = error_of(specs=["lr=log:1e-4:1e-1"])
    assert "no count" in line and "--random" in line


# ---------------------------------------------------------------- bad --sweep specs


@pytest.mark.parametrize(
    "specs, expected",
    [
        (["lr="], "--sweep lr= has no values"),
        (["lr"], "has no '='"),
        (["lr=0.1,,0.2"], "empty value"),
        (["lr=0.1,"], "empty value"),
        (["=1,2"], "'' is not a parameter name"),
        (["my lr=1,2"], "'my lr' is not a parameter name"),
        (["lr=1", "lr=2"], "--sweep names 'lr' twice"),
    ],
)
def test_bad_sweep_specs_are_one_line_config_errors(specs, expected):
    with pytest.raises(ConfigError) as caught:
        expand_sweep(specs)
    assert expected in caught.value.one_line()


def test_zip_length_mismatch_names_the_lengths():
    line = error_of(specs=["a=1,2,3", "b=1,2"], zip_=True)
    assert "a has 3, b has 2" in line


def test_too_many_tasks_points_to_random():
    line = error_of(specs=["a=range:1001", "b=range:1000"])
    assert "1,001,000 tasks" in line and "--random" in line


def test_the_limit_itself_is_allowed(monkeypatch):
    monkeypatch.setattr("freight.spec.sweep.MAX_TASKS", 6)  # the rule, without a million tasks
    assert len(expand_sweep(["a=1,2", "b=1,2,3"])) == 6
    assert "more than 6" in error_of(specs=["a=1,2", "b=1,2,3,4"])
    assert MAX_TASKS == 1_000_000


def test_parse_sweep_arg_keeps_a_range_as_one_string():
    assert parse_sweep_arg("lr=log:1e-4:1e-1:5") == ("lr", "log:1e-4:1e-1:5")
    assert parse_sweep_arg(" lr=1,2") == ("lr", ["1", "2"])


# ---------------------------------------------------------------- random search


def test_random_is_reproducible_with_a_seed():
    specs = ["lr=log:1e-5:1e-1", "drop=lin:0:0.5", "opt=adam,sgd", "seed=range:100"]
    first = expand_sweep(specs, random_n=50, seed=7)
    assert first == expand_sweep(specs, random_n=50, seed=7)
    assert first != expand_sweep(specs, random_n=50, seed=8)
    assert [task.index for task in first] == list(range(50))


def test_random_samples_stay_within_their_dimensions():
    tasks = expand_sweep(["lr=log:1e-5:1e-1", "p=lin:0:1", "opt=adam,sgd"], random_n=200, seed=1)
    lrs = [task.params["lr"] for task in tasks]
    assert all(1e-5 <= lr <= 1e-1 for lr in lrs)
    assert all(0 <= task.params["p"] <= 1 and isinstance(task.params["p"], float) for task in tasks)
    assert {task.params["opt"] for task in tasks} == {"adam", "sgd"}
    # log-uniform: about as many draws below 1e-3 (two decades of four) as above
    below = sum(lr < 1e-3 for lr in lrs)
    assert 60 < below < 140


def test_random_draws_from_counted_ranges_and_file_rows(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"model": "a"}\n{"model": "b"}\n')
    tasks = expand_sweep(["b=log:16:256:5"], sweep_file=rows, random_n=100, seed=3)
    assert {task.params["b"] for task in tasks} <= {16, 32, 64, 128, 256}
    assert {task.params["model"] for task in tasks} == {"a", "b"}


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"specs": [], "random_n": 5}, "nothing to sample"),
        ({"specs": ["a=1,2"], "random_n": 5, "zip_": True}, "cannot --zip"),
        ({"specs": ["a=1,2"], "random_n": 0}, "--random 0 is out of range"),
        ({"specs": ["a=1,2"], "seed": 3}, "does nothing without it"),
    ],
)
def test_bad_random_requests(kwargs, expected):
    assert expected in error_of(**kwargs)


# ---------------------------------------------------------------- sweep files


def test_csv_rows_are_text_like_cli_values(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('lr,note\n1e-3,"a, b"\n0.1,\n')
    assert params(expand_sweep([], sweep_file=path)) == [
        {"lr": "1e-3", "note": "a, b"},
        {"lr": "0.1", "note": ""},
    ]


def test_jsonl_and_toml_rows_keep_their_types(tmp_path):
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text('{"lr": 0.001, "deep": true, "n": 3}\n\n{"lr": 0.1, "deep": false, "n": 4}\n')
    toml = tmp_path / "rows.toml"
    toml.write_text('[[row]]\nlr = 0.001\ndeep = true\nn = 3\n\n[[row]]\nlr = 0.1\ndeep = false\nn = 4\n')
    expected = [{"lr": 0.001, "deep": True, "n": 3}, {"lr": 0.1, "deep": False, "n": 4}]
    assert params(expand_sweep([], sweep_file=jsonl)) == expected
    assert params(expand_sweep([], sweep_file=toml)) == expected
    assert type(expand_sweep([], sweep_file=toml)[0].params["deep"]) is bool


def test_file_rows_are_crossed_with_the_grid_file_outermost(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"model": "a"}\n{"model": "b"}\n')
    tasks = expand_sweep(["seed=1,2"], sweep_file=path)
    assert params(tasks) == [
        {"model": "a", "seed": "1"},
        {"model": "a", "seed": "2"},
        {"model": "b", "seed": "1"},
        {"model": "b", "seed": "2"},
    ]


def test_a_name_in_both_file_and_sweep_is_an_error(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("lr\n0.1\n")
    assert "also a column of the sweep file" in error_of(specs=["lr=1"], sweep_file=path)


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("rows.csv", "a,b\n1,2\n3\n", "rows.csv: line 3: 1 cells but the header names 2"),
        ("rows.csv", "a,a\n1,2\n", "line 1: the header names ['a'] twice"),
        ("rows.csv", "bad name\n1\n", "line 2: 'bad name' is not a parameter name"),
        ("rows.csv", "", "the sweep file has no rows"),
        ("rows.jsonl", '{"a": 1}\n{"a": \n', "rows.jsonl: line 2: not valid JSON"),
        ("rows.jsonl", '{"a": 1}\n[1]\n', "line 2: not a JSON object"),
        ("rows.jsonl", '{"a": 1}\n{"b": 1}\n', "line 2: names ['b'] differ from the first row's ['a']"),
        ("rows.jsonl", '{"a": null}\n', "line 1: value None of 'a' is not a string, number"),
        ("rows.jsonl", '{"a": [1, 2]}\n', "line 1: value [1, 2] of 'a'"),
        ("rows.toml", "[[params]]\na = 1\n", "unknown key 'params'"),
        ("rows.toml", "[[rows]]\na = 1\n", "unknown key 'rows' (did you mean 'row'?)"),
        ("rows.toml", "[row]\na = 1\n", "write [[row]], not [row]"),
        ("rows.toml", "[[row]]\na = 1\n[[row]]\na = 1979-05-27\n", "row 2: value datetime.date"),
        ("rows.toml", "[[row]]\na = \n", "not valid TOML"),
        ("rows.txt", "a\n", "'.txt' is not a sweep file type"),
    ],
)
def test_bad_sweep_files_name_file_and_line(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    line = error_of(specs=[], sweep_file=path)
    assert line.startswith(str(path) + ": ")
    assert expected in line


def test_a_missing_sweep_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as caught:
        expand_sweep([], sweep_file=tmp_path / "nope.csv")
    assert "sweep file not found" in caught.value.one_line()


# ---------------------------------------------------------------- config-style params


def test_params_mapping_keeps_native_types_and_reads_ranges():
    tasks = expand_params({"lr": [0.1, 0.01], "n": "range:2", "model": "resnet", "deep": True})
    assert params(tasks) == [
        {"lr": 0.1, "n": 0, "model": "resnet", "deep": True},
        {"lr": 0.1, "n": 1, "model": "resnet", "deep": True},
        {"lr": 0.01, "n": 0, "model": "resnet", "deep": True},
        {"lr": 0.01, "n": 1, "model": "resnet", "deep": True},
    ]


@pytest.mark.parametrize(
    "spec, expected",
    [([], "empty list"), ([math.nan], "nan"), ([{"a": 1}], "is not a string, number")],
)
def test_bad_params_values(spec, expected):
    with pytest.raises(ConfigError) as caught:
        expand_params({"x": spec})
    assert expected in caught.value.one_line()


def test_unknown_mode_is_an_error():
    with pytest.raises(ConfigError, match="not grid or zip"):
        expand_params({"x": [1]}, mode="cross")
