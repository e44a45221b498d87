"""`freight deps`: output formats, -o, --check exit codes, warnings on stderr, bad input."""

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from freight.cli import main

PROJECTS = Path(__file__).parent.parent / "projects"


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
