"""`freight deps`: output formats, -o, --check exit codes, warnings on stderr, bad input."""

import json
import subprocess
import sys
from enum import Enum
from importlib.metadata import version
from pathlib import Path

import pytest

from freight.cli import deps_fast, load_app, main, run_app

PROJECTS = Path(__file__).parent.parent / "projects"


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    """freight's caches (`freight deps` keeps some) go to a throwaway folder."""
    monkeypatch.setenv("FREIGHT_CACHE_DIR", str(tmp_path / "cache"))


def test_prints_requirements_txt_with_the_optional_block(capsys):
    assert main(["deps", str(PROJECTS / "optional_imports")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:5] == ["numpy", "PyYAML", "requests", "scipy", "tomli"]
    assert out[5].startswith("# optional:")
    assert "# ujson  # try/except ImportError" in out


def test_no_optional_leaves_the_block_out(capsys):
    assert main(["deps", str(PROJECTS / "optional_imports"), "--no-optional"]) == 0
    assert capsys.readouterr().out == "numpy\nPyYAML\nrequests\nscipy\ntomli\n"


def test_json_format(capsys):
    assert main(["deps", str(PROJECTS / "local_shadow"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "freight.deps/1"
    assert [r["name"] for r in data["requirements"]] == ["numpy", "requests", "scikit-learn", "tensorflow"]
    assert data["requirements"][3]["sources"] == ["main.py:2"]


def test_pin_local_and_output_file(tmp_path, capsys):
    (tmp_path / "tool.py").write_text("import packaging\n")
    target = tmp_path / "requirements.txt"
    assert main(["deps", str(tmp_path), "--pin", "local", "-o", str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert target.read_text() == f"packaging=={version('packaging')}\n"
    assert "wrote" in captured.err


def test_check_exit_codes(capsys):
    assert main(["deps", str(PROJECTS / "check_mismatch"), "--check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "undeclared: scipy (imported at app.py:2)",
        "unused: requests (declared at requirements.txt:1, never imported)",
    ]
    assert main(["deps", str(PROJECTS / "check_clean"), "--check"]) == 0
    assert "agree" in capsys.readouterr().err


def test_warnings_go_to_stderr_one_line_each(capsys):
    assert main(["deps", str(PROJECTS / "py2_project")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "numpy\nrequests\nsimplejson\n"
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: legacy.py:7: does not parse")


def test_missing_path_is_a_one_line_error_exit_2(tmp_path, capsys):
    assert main(["deps", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("freight: error: ") and "no such file or folder" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_file_that_is_not_a_script_is_bad_input(capsys):
    assert main(["deps", str(PROJECTS / "check_clean" / "requirements.txt")]) == 2
    assert "not a script" in capsys.readouterr().err


def test_check_with_json_prints_the_report_and_exits_1(capsys):
    assert main(["deps", str(PROJECTS / "check_mismatch"), "--check", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in data["undeclared_imports"]] == ["scipy"]
    assert [d["name"] for d in data["unused_declared"]] == ["requests"]


def test_bad_option_value_is_a_usage_error(capsys):
    assert main(["deps", ".", "--pin", "exact"]) == 2


def test_subprocess_run_of_the_installed_command():
    done = subprocess.run(
        [sys.executable, "-m", "freight", "deps", str(PROJECTS / "namespaces"), "--no-optional"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "google-cloud-storage" in done.stdout.splitlines()
    assert done.stderr == ""


# ---- the quick start: plain arguments skip typer ----------------------------------------


def typer_options():
    """(flag, choices or None) of every option of the typer command, and its flags."""
    import typer.main

    command = typer.main.get_command(load_app()).commands["deps"]
    options, flags = {}, set()
    for param in command.params:
        if param.param_type_name != "option":
            continue
        if param.is_flag:
            flags |= set(param.opts) | set(param.secondary_opts)
        else:
            annotation = param.type_descriptor.annotation  # an Enum for a choice
            choices = tuple(e.value for e in annotation) if issubclass(annotation, Enum) else None
            options.update({opt: choices for opt in param.opts})
    return options, flags


def test_the_quick_parser_knows_exactly_the_typer_command_options():
    options, flags = typer_options()
    assert {flag: allowed for flag, (_, allowed) in deps_fast.VALUE_OPTIONS.items()} == options
    assert set(deps_fast.FLAG_OPTIONS) == flags


@pytest.mark.parametrize("args", [
    [str(PROJECTS / "optional_imports")],
    [str(PROJECTS / "optional_imports"), "--no-optional"],
    ["--format=json", str(PROJECTS / "local_shadow")],
    ["-fjson", "--", str(PROJECTS / "local_shadow")],
    [str(PROJECTS / "check_mismatch"), "--check"],
    [str(PROJECTS / "check_mismatch"), "--check", "-f", "json", "--optional"],
    [str(PROJECTS / "py2_project"), "--pin", "none"],
])
def test_plain_arguments_print_what_the_typer_command_prints(args, capsys):
    assert deps_fast.parse_args(args) is not None
    quick = main(["deps", *args]), capsys.readouterr()
    full = run_app(["deps", *args]), capsys.readouterr()
    assert quick == full


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], [".", "--pin", "exact"], [".", "--format"], ["a", "b"], ["--nope"],
    ["--check=yes"], ["--debug", "."], ["-x"],
])
def test_other_arguments_are_left_to_typer(args):
    assert deps_fast.parse_args(args) is None


def test_help_still_comes_from_typer(capsys):
    assert main(["deps", "--help"]) == 0
    assert "--no-optional" in capsys.readouterr().out


def test_a_plain_run_imports_neither_typer_nor_rich_nor_pydantic():
    code = (
        "import sys; from freight.cli import main; code = main(['deps', sys.argv[1]]); "
        "print(sorted(m for m in ('typer', 'rich', 'pydantic', 'click', 'nbformat', "
        "'packaging', 'importlib.metadata') if m in sys.modules), code, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(PROJECTS / "optional_imports")],
                          capture_output=True, text=True, timeout=120)
    assert done.stderr.strip() == "[] 0"
    assert done.stdout.startswith("numpy\n")
