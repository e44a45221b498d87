"""`freight init`: writes a freight.toml that loads back, refuses to overwrite, exit codes."""

import sys
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from freight.cli import main
from freight.spec.config import load_config
from freight.spec.init import find_requirements, render_init


def one_line(text: str) -> str:
    return " ".join(text.split())  # the console may wrap long lines; compare the words


def test_init_for_a_script_writes_a_config_that_loads_back(tmp_path, capsys):
    (tmp_path / "train.py").write_text("print('hi')\n")
    assert main(["init", str(tmp_path / "train.py")]) == 0
    path = tmp_path / "freight.toml"
    config = load_config(tmp_path)
    assert config.source == path
    assert config.command == ["python", "train.py"]
    assert config.name == "train"
    assert config.target == "local"
    assert [task.params for task in config.tasks()] == [{}]  # the example sweep is commented out
    assert f"wrote {path}" in one_line(capsys.readouterr().err)
    text = path.read_text()
    assert "[resources]" in text and "# cpus = 4" in text and '# lr = "log:1e-4:1e-1:4"' in text


def test_init_for_a_notebook_runs_the_notebook(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(notebook, tmp_path / "explore.ipynb")
    assert main(["init", str(tmp_path / "explore.ipynb")]) == 0
    config = load_config(tmp_path)
    assert config.command == ["python", "explore.ipynb"]
    assert config.name == "explore"


def test_init_defaults_to_the_current_folder_and_finds_main_py(tmp_path, monkeypatch):
    (tmp_path / "main.py").write_text("")
    (tmp_path / "helpers.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert load_config(tmp_path).command == ["python", "main.py"]


def test_init_for_a_folder_with_one_script_uses_it(tmp_path):
    (tmp_path / "experiment.py").write_text("")
    (tmp_path / "test_experiment.py").write_text("")
    assert main(["init", str(tmp_path)]) == 0
    assert load_config(tmp_path).command == ["python", "experiment.py"]


def test_init_without_an_entry_point_leaves_command_unset_and_warns(tmp_path, capsys):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("")
    assert main(["init", str(tmp_path)]) == 0
    config = load_config(tmp_path)
    assert config.command is None
    assert config.name == tmp_path.name
    assert "no entry point found" in one_line(capsys.readouterr().err)


def test_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    (tmp_path / "train.py").write_text("")
    existing = tmp_path / "freight.toml"
    existing.write_text('name = "mine"\n')
    assert main(["init", str(tmp_path / "train.py")]) == 2
    message = one_line(capsys.readouterr().err)
    assert f"freight: error: {existing}: already exists (fix: pass --force to replace it)" in message
    assert existing.read_text() == 'name = "mine"\n'
    assert main(["init", "--force", str(tmp_path / "train.py")]) == 0
    assert load_config(tmp_path).name == "train"


@pytest.mark.parametrize(
    "name, expected", [("missing.py", "no such file or folder"), ("notes.txt", "not a Python script or notebook")]
)
def test_init_on_a_bad_path_is_exit_2(tmp_path, capsys, name, expected):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("")
    assert main(["init", str(tmp_path / name)]) == 2
    assert expected in one_line(capsys.readouterr().err)
    assert not (tmp_path / "freight.toml").exists()


def test_awkward_file_names_are_quoted_in_the_toml(tmp_path):
    script = tmp_path / 'my "odd" \\ name.py'
    script.write_text("")
    assert main(["init", str(script)]) == 0
    assert load_config(tmp_path).command == ["python", 'my "odd" \\ name.py']


def test_rendered_requirements_load_back(tmp_path):
    text = render_init("job", ["python", "t.py"], ["numpy>=1.24", 'torch; sys_platform == "linux"'], "t.py")
    (tmp_path / "freight.toml").write_text(text)
    assert load_config(tmp_path).requirements == ["numpy>=1.24", 'torch; sys_platform == "linux"']


def requirement_names(folder: Path) -> list[str]:
    return [Requirement(text).name.lower() for text in load_config(folder).requirements]


def test_requirements_come_from_the_dependency_analysis(tmp_path):
    (tmp_path / "train.py").write_text("import numpy\nimport json\nimport yaml\n")
    assert main(["init", str(tmp_path / "train.py")]) == 0
    assert requirement_names(tmp_path) == ["numpy", "pyyaml"]  # json is the standard library


def test_notebook_requirements_come_from_the_dependency_analysis(tmp_path):
    cells = [nbformat.v4.new_code_cell("!pip install pyyaml\nimport numpy as np")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "nb.ipynb")
    assert main(["init", str(tmp_path / "nb.ipynb")]) == 0
    assert "numpy" in requirement_names(tmp_path)


def test_without_the_analysis_init_still_writes_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "freight.deps.analyze", None)  # as if not installed
    assert find_requirements(tmp_path) == (None, ["the dependency analysis is not available; requirements left empty"])
    (tmp_path / "train.py").write_text("import numpy\n")
    assert main(["init", str(tmp_path / "train.py")]) == 0
    assert load_config(tmp_path).requirements == []
    assert "not available" in one_line(capsys.readouterr().err)
    assert "(the analysis was not available" in (tmp_path / "freight.toml").read_text()


def test_init_help_describes_the_command(capsys):
    assert main(["init", "--help"]) == 0
    assert "--force" in capsys.readouterr().out


def test_written_file_is_a_valid_starting_point_for_overrides(tmp_path):
    (tmp_path / "train.py").write_text("")
    main(["init", str(tmp_path / "train.py")])
    config = load_config(Path(tmp_path / "train.py"))
    assert config.resources.cpus is None and config.sweep.params == {}
