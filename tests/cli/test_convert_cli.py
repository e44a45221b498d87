"""`freight convert` on the command line: outputs, flags, warnings and exit codes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from freight.cli import main
from freight.deps.convert import convert_notebook
from freight.errors import InputError

PROJECTS = Path(__file__).resolve().parents[1] / "projects"
COLAB = PROJECTS / "nb_colab" / "colab.ipynb"
BROKEN = PROJECTS / "nb_broken" / "broken.ipynb"


def flat(text: str) -> str:
    """Console output with line wrapping undone (Rich wraps at the terminal width)."""
    return " ".join(text.split())


def test_without_output_the_script_goes_to_stdout(capsys):
    assert main(["convert", str(COLAB)]) == 0
    captured = capsys.readouterr()
    assert captured.out == convert_notebook(COLAB).script
    assert "Google Drive mount removed" in flat(captured.err)


def test_output_file_is_executable_and_requirements_written_on_request(tmp_path, capsys):
    script, requirements = tmp_path / "train.py", tmp_path / "requirements.txt"
    args = ["convert", str(COLAB), "-o", str(script), "--requirements", str(requirements)]
    assert main(args) == 0
    assert capsys.readouterr().out == ""
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/usr/bin/env python3\n# train.py: converted from")
    assert requirements.read_text().splitlines()[1:] == [
        "transformers==4.36.2", "datasets", "accelerate>=0.25",
        "peft @ git+https://github.com/huggingface/peft.git", "torch==2.1.0+cu118",
    ]


def test_no_requirements_file_unless_asked(tmp_path, capsys):
    assert main(["convert", str(COLAB), "-o", str(tmp_path / "s.py")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.py"]


@pytest.mark.parametrize("notebook, problem", [
    (BROKEN, "not a readable notebook"),
    (PROJECTS / "nb_none" / "missing.ipynb", "notebook not found"),
])
def test_bad_notebook_is_one_line_error_exit_2(notebook, problem, capsys):
    assert main(["convert", str(notebook)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert flat(captured.err).startswith(f"freight: error: {notebook}: {problem}")
    assert "Traceback" not in captured.err


def test_debug_shows_the_exception():
    with pytest.raises(InputError):
        main(["--debug", "convert", str(BROKEN)])


def test_warnings_are_one_line_each_on_stderr(tmp_path):
    # A wide COLUMNS keeps Rich from wrapping long lines; the messages themselves are one line.
    env = {**os.environ, "COLUMNS": "5000", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "freight", "convert", str(COLAB), "-o", str(tmp_path / "s.py")],
        capture_output=True, text=True, env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    expected = convert_notebook(COLAB).warnings
    assert lines == [f"warning: {w}" for w in expected] + [f"wrote {tmp_path / 's.py'}"]


def test_help_documents_the_requirements_flag(capsys):
    assert main(["convert", "--help"]) == 0
    assert "--requirements" in capsys.readouterr().out
