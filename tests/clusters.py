"""What tests of `freight script`, `freight shell` and site profiles need from this machine: the
real Slurm and Grid Engine (ci/slurm.sh, ci/sge.sh) and shellcheck. Missing: a skip that says
how to get it, or a failure in CI, where they must be there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require(problem: str | None, how: str) -> None:
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem}: in CI, {how}")
    pytest.skip(f"{problem}: {how}")


def slurm_problem() -> str | None:
    if shutil.which("sinfo") is None:
        return "Slurm is not installed"
    done = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0 or done.stdout.strip() not in ("idle", "mix", "alloc", "comp", "plnd"):
        return f"Slurm is not up ({(done.stderr or done.stdout).strip()[:80]})"
    return None


def sge_problem() -> str | None:
    if shutil.which("qstat") is None:
        return "Grid Engine is not installed"
    done = subprocess.run(["qstat", "-f"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0 or "BIP" not in done.stdout:
        return f"Grid Engine is not running ({(done.stderr or done.stdout).strip()[:80]})"
    return None


def need_slurm() -> None:
    require(slurm_problem(), "start it as root: bash ci/slurm.sh up")


def need_sge() -> None:
    require(sge_problem(), "start it as root: bash ci/sge.sh up")
    clear_queue_errors()


def clear_queue_errors() -> None:
    """A job whose shepherd failed before its prolog (its output folder deleted by an earlier
    test while it waited, say) puts the whole queue in error state `E`, and Grid Engine then
    starts nothing more. That is the earlier test's mess, not this test's subject: clear it."""
    listing = subprocess.run(["qstat", "-f"], capture_output=True, text=True, timeout=30).stdout
    if any(len(line.split()) >= 6 and "E" in line.split()[5] for line in listing.splitlines()):
        subprocess.run(["qmod", "-c", "*"], capture_output=True, text=True, timeout=30)


def shellcheck(path: Path) -> None:
    """The script passes shellcheck with no warning."""
    require(None if shutil.which("shellcheck") else "shellcheck is not installed",
            "apt install shellcheck (ci/install.sh does)")
    done = subprocess.run(["shellcheck", "-S", "warning", "-f", "gcc", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr + path.read_text()



def condor_submit_ads(path: Path) -> dict:
    """The htcondor bindings' own reading of a submit file (items and job ads), in a subprocess
    (tests/sched/condor_validate.py; a freed ClassAd segfaults the interpreter)."""
    import importlib.util
    import json
    import sys

    if importlib.util.find_spec("htcondor") is None:
        require("the htcondor bindings are not installed", "pip install 'htcondor==24.*'")
    script = Path(__file__).parent / "sched" / "condor_validate.py"
    done = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CONDOR_CONFIG": "/dev/null"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
