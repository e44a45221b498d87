"""Reading `!shell` lines: when a shell is needed, the words of simple commands, installs."""

from pathlib import Path

import pytest

from freight.deps import notebook_shell
from freight.deps.notebook import parse_cell


@pytest.mark.parametrize("command, reason", [
    ("ls data | wc -l", "pipe"),
    ("python train.py > log.txt 2>&1", "redirection"),
    ("make && make install", "command list"),
    ("echo $HOME", "$"),
    ("echo `date`", "$ or `"),
    ("ls *.csv", "wildcards"),
    ("ls ~/data", "~"),
    ("cd data", "builtin `cd`"),
    ("CUDA_VISIBLE_DEVICES=0 python train.py", "environment variable"),
    ("echo 'unclosed", "unclosed quote"),
])
def test_commands_that_need_a_shell_say_why(command, reason):
    assert reason in notebook_shell.shell_reason(command)
    assert notebook_shell.simple_words(command) is None


@pytest.mark.parametrize("command, words", [
    ("ls -l data", ["ls", "-l", "data"]),
    ("echo 'a b' \"c d\"", ["echo", "a b", "c d"]),
    ("echo {n + 1} x{d['k']}y", ["echo", "{n + 1}", "x{d['k']}y"]),  # IPython's {expr} whole
    ("echo '*.csv' 'a|b' '$HOME'", ["echo", "*.csv", "a|b", "$HOME"]),  # quoted: no shell
    ("ls data  # list it", ["ls", "data"]),
])
def test_simple_commands_run_from_words(command, words):
    assert notebook_shell.shell_reason(command) is None
    assert notebook_shell.simple_words(command) == words


@pytest.mark.parametrize("command, expected", [
    ("pip install x", ("pip", ["install", "x"])),
    ("pip3 install x", ("pip", ["install", "x"])),
    ("python3 -m pip install x", ("pip", ["install", "x"])),
    ("{sys.executable} -m pip install x", ("pip", ["install", "x"])),
    ("uv pip install x", ("pip", ["install", "x"])),
    ("sudo apt-get install -y ffmpeg", ("apt", ["install", "-y", "ffmpeg"])),
    ("conda install -c conda-forge rdkit", ("conda", ["install", "-c", "conda-forge", "rdkit"])),
    ("python train.py", None),
])
def test_installers_are_recognised(command, expected):
    [words] = notebook_shell.commands(command)
    assert notebook_shell.installer(words) == expected


def test_redirections_are_not_arguments():
    assert notebook_shell.commands("pip install -q x 2>&1 > /dev/null && echo done") == [
        ["pip", "install", "-q", "x"], ["echo", "done"]
    ]


def test_unquoted_version_bound_is_recorded_as_meant_with_a_warning():
    cells = [parse_cell(0, "!pip install torch>=2.1 numpy==1.26.4 > /dev/null")]
    installs = notebook_shell.collect(Path("nb.ipynb"), cells)
    assert installs.requirements == ["torch>=2.1", "numpy==1.26.4"]
    [warning] = installs.warnings
    assert warning.startswith("nb.ipynb: cell 1, line 1: unquoted version bound")


def test_conda_installs_are_warned_not_guessed():
    installs = notebook_shell.collect(Path("nb.ipynb"), [parse_cell(2, "%conda install rdkit")])
    assert installs.requirements == []
    assert installs.warnings == [
        "nb.ipynb: cell 3, line 1: conda install not converted: add rdkit to an environment.yml"
    ]


def test_a_line_mixing_install_and_work_is_not_install_only():
    assert notebook_shell.is_install_only("shell", "", "pip install x && pip install y")
    assert not notebook_shell.is_install_only("shell", "", "pip install x && python train.py")
