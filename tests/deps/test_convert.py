"""`freight convert`: notebooks become scripts that run under plain python.

Golden files: tests/deps/golden/<case>.py is the script for tests/projects/nb_<case>/ (and
`example` for examples/notebook/); <case>.warnings.txt holds its warnings, the notebook named
by file name. Regenerate both with FREIGHT_UPDATE_GOLDEN=1 and read the diff.
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from freight.deps.convert import convert_notebook, requirements_text, write_script
from freight.errors import InputError

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
PROJECTS = HERE.parent / "projects"
EXAMPLE = HERE.parent.parent / "examples" / "notebook" / "colab_fit.ipynb"
CASES = {
    "shell": PROJECTS / "nb_shell" / "shell.ipynb",
    "magics": PROJECTS / "nb_magics" / "magics.ipynb",
    "cell_magics": PROJECTS / "nb_cell_magics" / "cell_magics.ipynb",
    "colab": PROJECTS / "nb_colab" / "colab.ipynb",
    "pseudo": PROJECTS / "nb_pseudo" / "pseudo.ipynb",
    "v3": PROJECTS / "nb_v3" / "legacy.ipynb",
    "example": EXAMPLE,
}


def check_golden(path: Path, text: str) -> None:
    if os.environ.get("FREIGHT_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with FREIGHT_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs (FREIGHT_UPDATE_GOLDEN=1 rewrites it)"


@pytest.mark.parametrize("case", sorted(CASES))
def test_script_and_warnings_match_golden(case):
    notebook = CASES[case]
    conversion = convert_notebook(notebook)
    compile(conversion.script, f"{case}.py", "exec")
    check_golden(GOLDEN / f"{case}.py", conversion.script)
    warnings = "".join(f"{w.replace(str(notebook), notebook.name)}\n" for w in conversion.warnings)
    check_golden(GOLDEN / f"{case}.warnings.txt", warnings)


def test_golden_scripts_pass_py_compile(tmp_path):
    scripts = sorted(str(p) for p in GOLDEN.glob("*.py"))
    assert len(scripts) == len(CASES)
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path)}  # no __pycache__ in golden/
    done = subprocess.run([sys.executable, "-m", "py_compile", *scripts],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_ipython_call_or_pip_run_is_left(case):
    lines = convert_notebook(CASES[case]).script.splitlines()
    code = [line for line in lines if not line.lstrip().startswith("#")]
    assert lines[0] == "#!/usr/bin/env python3"
    assert not any("get_ipython()" in line.split("#")[0] for line in code)
    # top-level Colab imports are gone; one guarded by try/except ImportError stays, indented
    assert not any(line.startswith(("import google", "from google")) for line in code)
    assert not any('"pip"' in line or '"install"' in line for line in code)


def write_notebook(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "nb.ipynb"
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(path))
    return path


def test_imports_are_added_only_when_needed(tmp_path):
    plain = convert_notebook(write_notebook(tmp_path, "x = 1\nprint(x)")).script
    assert "import" not in plain and "display = print" not in plain
    shell = convert_notebook(write_notebook(tmp_path, "!echo hi")).script
    assert "\nimport subprocess\nimport sys\n" in shell and "import os" not in shell


def test_display_is_mapped_to_print_only_when_not_imported(tmp_path):
    bare = convert_notebook(write_notebook(tmp_path, "display(1)")).script
    assert "\ndisplay = print" in bare
    imported = convert_notebook(
        write_notebook(tmp_path, "from IPython.display import display\ndisplay(1)")).script
    assert "display = print" not in imported


def test_markdown_cells_can_be_left_out(tmp_path):
    path = tmp_path / "md.ipynb"
    cells = [nbformat.v4.new_markdown_cell("Some *prose*"), nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(path))
    assert "# Some *prose*" in convert_notebook(path).script
    without = convert_notebook(path, markdown=False).script
    assert "prose" not in without and "# %% cell 2\nx = 1\n" in without


def test_translated_ipython_really_runs(tmp_path):
    """The translations do in plain python what IPython did: run with this python."""
    notebook = write_notebook(
        tmp_path,
        "%env GREETING=hello there\nname = 'data'\n!mkdir -p {name}\n%cd {name}",
        "%%writefile notes.txt\nfirst line\nsecond line",
        "%%bash\necho \"$GREETING\" > greeting.txt",
        "lines = !cat notes.txt\ncount = !cat notes.txt | wc -l\n"
        "print(lines, int(count[0]))\n%time here = os.path.basename(os.getcwd())\nprint(here)",
    )
    script = tmp_path / "nb.py"
    write_script(convert_notebook(notebook).script, script, notebook)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['first line', 'second line'] 2", "data"]
    assert (tmp_path / "data" / "greeting.txt").read_text() == "hello there\n"


def test_failing_shell_command_stops_the_script(tmp_path):
    notebook = write_notebook(tmp_path, "!false\nprint('not reached')")
    script = tmp_path / "nb.py"
    write_script(convert_notebook(notebook).script, script, notebook)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "CalledProcessError" in done.stderr
    assert "not reached" not in done.stdout


def test_write_script_makes_it_executable_and_refuses_the_notebook(tmp_path):
    notebook = write_notebook(tmp_path, "print('hi')")
    script = tmp_path / "run.py"
    write_script(convert_notebook(notebook).script, script, notebook)
    assert script.stat().st_mode & stat.S_IXUSR
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "hi\n"  # the shebang finds python3
    with pytest.raises(InputError, match="overwrite the notebook"):
        write_script("x = 1\n", notebook, notebook)


def test_requirements_text_keeps_pins(tmp_path):
    notebook = write_notebook(tmp_path, "!pip install -q torch==2.1.0 'numpy<2' einops")
    text = requirements_text(convert_notebook(notebook), notebook)
    assert text.splitlines()[1:] == ["torch==2.1.0", "numpy<2", "einops"]


def test_broken_json_is_an_input_error():
    with pytest.raises(InputError, match="not a readable notebook"):
        convert_notebook(PROJECTS / "nb_broken" / "broken.ipynb")


def test_example_notebook_converts_and_runs_offline(tmp_path):
    conversion = convert_notebook(EXAMPLE, script_name="fit.py")
    assert conversion.requirements == ["numpy==1.26.4", "matplotlib"]
    assert conversion.data_paths == ["/content/drive/MyDrive/freight-demo/measurements.csv"]
    script = tmp_path / "fit.py"
    write_script(conversion.script, script, EXAMPLE)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "no Drive data here: using generated measurements",
        "measurements: 101 points",
        "slope 3.00 intercept 2.01",
        "fit.json",
    ]
    fit = json.loads((tmp_path / "outputs" / "fit.json").read_text())
    assert fit == {"slope": pytest.approx(3.0, abs=0.01),
                   "intercept": pytest.approx(2.0, abs=0.01), "points": 101}
