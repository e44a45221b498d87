"""What the launcher tests share: the two-node Slurm cluster that `bash ci/slurm.sh up` starts
beside the single-node one, and a look for processes a launcher left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from clusters import require

MULTI_CONF = Path(os.environ.get("FREIGHT_CI_SLURM_MULTI", "/var/lib/freight-ci/slurm-multi")) / "slurm.conf"


def multi_problem() -> str | None:
    if shutil.which("sinfo") is None:
        return "Slurm is not installed"
    if not MULTI_CONF.exists():
        return f"the two-node Slurm is not set up ({MULTI_CONF} is missing)"
    done = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "SLURM_CONF": str(MULTI_CONF)})
    usable = [s for s in done.stdout.split() if s in ("idle", "mix", "alloc", "comp", "plnd")]
    if done.returncode != 0 or len(usable) != 2:
        return f"the two-node Slurm is not up ({(done.stderr or done.stdout).strip()[:80]})"
    return None


@pytest.fixture(scope="session")
def slurm_multi() -> dict[str, str]:
    """The environment that points sbatch, squeue, scancel … at the two-node cluster."""
    require(multi_problem(), "start it as root: bash ci/slurm.sh up")
    return {"SLURM_CONF": str(MULTI_CONF)}


def needs(module: str) -> None:
    """The launcher's package in this interpreter (the tests run the program with it)."""
    import importlib.util

    require(None if importlib.util.find_spec(module) else f"{module} is not installed",
            f"pip install 'freight[{'torch' if module == 'torch' else module}]'")


def processes_of(run_dir: str) -> list[str]:
    """Command lines of live processes started for this run (the task's environment names it)."""
    marker = f"FREIGHT_RUN_DIR={run_dir}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0") and b"Z" not in _state(proc):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


def _state(proc: Path) -> bytes:
    return (proc / "stat").read_bytes().rpartition(b")")[2].split()[0]
