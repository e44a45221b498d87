"""docs/chtc-gpu-lab.md: every `freight` command on the page runs, in an example project with
the seed's notebook, and prints what the page says (rendering only: no HTCondor pool here)."""

import os

import nbformat
import pytest
from guides import console_commands, freight_commands, run_freight

PAGE = "chtc-gpu-lab.md"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(tmp_path / "config"))  # no user profile
    folder = tmp_path / "colab"
    folder.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import numpy as np\nprint(np.ones(3) * 0.1)")]
    nbformat.write(notebook, folder / "colab_model.ipynb")
    (folder / ".env").write_text("WANDB_API_KEY=secret\n")
    return folder


def expected_lines(command: str) -> list[str]:
    """The output lines the page shows under a command (a subset of what it prints)."""
    text = (os.path.join(os.path.dirname(__file__), "..", "..", "docs", PAGE))
    lines = open(text, encoding="utf-8").read().splitlines()
    start = lines.index(f"$ {command}") + 1
    shown = []
    for line in lines[start:]:
        if line.startswith(("$ ", "```")):
            break
        shown.append(line)
    return shown


def test_every_freight_command_on_the_page_runs_and_prints_what_it_shows(project):
    commands = [c for c in console_commands(PAGE) if c.startswith("freight ")]
    assert len(commands) == 4
    for command, argv in zip(commands, freight_commands(PAGE)):
        done = run_freight(argv, project)
        assert done.returncode == 0, (command, done.stderr)
        printed = done.stdout.splitlines()
        for line in expected_lines(command):
            assert line in printed, (command, line)


def test_the_sweep_on_the_page_is_one_cluster_of_three_procs(project):
    sweep = next(argv for argv in freight_commands(PAGE) if "--sweep" in argv)
    done = run_freight([*sweep[:2], "-o", str(project / "out"), *sweep[2:]], project)
    assert done.returncode == 0, done.stderr
    submit = (project / "out" / "htcondor.sub").read_text()
    assert submit.count("\nqueue ") == 1 and "queue task_index from " in submit
    assert (project / "out" / "htcondor-tasks.txt").read_text() == "0\n1\n2\n"
    assert ".env" not in submit.split("transfer_input_files = ")[1].splitlines()[0]


def test_the_build_job_on_the_page_is_a_build_job_without_the_notebooks_secrets(project):
    build = next(argv for argv in freight_commands(PAGE) if argv[1:3] == ["image", "build"])
    done = run_freight(build, project)
    assert done.returncode == 0, done.stderr
    folder = project / done.stdout.strip()
    submit = (folder / "htcondor-build.sub").read_text()
    assert "+IsBuildJob = true" in submit and "request_disk = " in submit
    sent = [path.name for path in (folder / "context").rglob("*")]
    assert "freight.def" in sent and ".env" not in sent
