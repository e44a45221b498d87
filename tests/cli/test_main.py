"""The command line's contract: exit codes, one-line errors, --debug tracebacks."""

import subprocess
import sys

from freight import __version__
from freight.cli import main


def test_version_prints_package_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"freight {__version__}"


def test_unknown_command_is_usage_error_exit_2(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_cli():
    done = subprocess.run(
        [sys.executable, "-m", "freight", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"freight {__version__}"
