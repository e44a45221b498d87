"""Multi-node launchers: one task spread over several nodes, as a Ray cluster (`--ray`) or as
torchrun with one launcher per node (`--torchrun`).

The task wrapper (freight.task) stays the one process the scheduler sees: for a job with a
launcher it renders the launcher's script into the task folder and runs `bash SCRIPT` instead
of the program. The script starts the other nodes' part (srun on Slurm, `qrsh -inherit` in a
Grid Engine parallel environment, plain processes for the local target), runs the program, and
stops everything it started when the program ends or a signal comes; so state files, time
limits, cancel and results work as for any task. The script is rendered on the node, at run
time, because only there are the engine, the image's command prefix and the scheduler known.

Stdlib + jinja2 only (the wrapper imports this on compute nodes).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from freight.errors import ConfigError, MissingToolError

LAUNCHERS = ("ray", "torchrun")
# Variables of an outer job step that an inner srun would take as its own request (task layout,
# CPU/memory binding, memory per CPU), and fail or bind wrongly with.
SLURM_UNSET = (
    "SLURM_CPU_BIND", "SLURM_CPU_BIND_LIST", "SLURM_CPU_BIND_TYPE", "SLURM_CPU_BIND_VERBOSE",
    "SLURM_MEM_BIND", "SLURM_MEM_BIND_LIST", "SLURM_MEM_BIND_TYPE", "SLURM_MEM_BIND_VERBOSE",
    "SLURM_MEM_PER_CPU", "SLURM_MEM_PER_GPU", "SLURM_DISTRIBUTION", "SLURM_NTASKS", "SLURM_NPROCS",
    "SLURM_NTASKS_PER_NODE", "SLURM_TASKS_PER_NODE", "SLURM_STEP_ID", "SLURM_STEPID",
    "SLURM_STEP_NODELIST", "SLURM_STEP_NUM_NODES", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_TASKS_PER_NODE",
    "SLURM_GPUS_PER_TASK", "SLURM_GPU_BIND", "SLURM_CPUS_PER_GPU",
)
# From TERM to KILL when stopping what a launcher started: well inside the task wrapper's own
# grace ($FREIGHT_KILL_GRACE, 10 s), after which it kills the launcher script before it tidies up.
GRACE_S = 5
JOIN_TIMEOUT_S = 300  # nodes that have not joined by then fail the task ($FREIGHT_JOIN_TIMEOUT: other)
EXTRA_FIX = {"ray": "pip install 'freight[ray]'", "torchrun": "pip install 'freight[torch]' (or torch itself)"}
MODULES = {"ray": "ray", "torchrun": "torch"}


@dataclass(frozen=True)
class Launch:
    """Everything a launcher script needs, decided on the node that runs the task."""

    launcher: str
    scheduler: str  # slurm | sge | local: how the other nodes are reached
    nodes: int
    cpus: int
    gpus: int  # per node
    python: str  # the program's interpreter (the image's python3 with an image)
    driver: list[str]  # the program's argv
    prefix: list[str] = field(default_factory=list)  # runs a command in the job's image
    job_tag: str = "freight"
    join_timeout_s: int = JOIN_TIMEOUT_S
    grace_s: int = GRACE_S

    def context(self) -> dict:
        return {"launcher": self.launcher, "scheduler": self.scheduler, "nodes": self.nodes,
                "cpus": self.cpus, "gpus": self.gpus, "python": self.python, "driver": self.driver,
                "prefix": self.prefix, "freight_python": sys.executable, "slurm_unset": SLURM_UNSET,
                "grace_s": self.grace_s, "join_timeout_s": self.join_timeout_s, "job_tag": self.job_tag}


@dataclass(frozen=True)
class Launched:
    """What the task wrapper starts instead of the bare program."""

    argv: list[str]
    env: dict[str, str]
    note: str


def scheduler_of(env: Mapping[str, str]) -> str:
    """How the other nodes are reached: the job script says which scheduler runs it."""
    scheduler = env.get("FREIGHT_SCHEDULER", "")
    if scheduler == "slurm" and env.get("SLURM_JOB_NODELIST"):
        return "slurm"
    if scheduler == "sge" and env.get("PE_HOSTFILE"):
        return "sge"
    return "local"


def render(launch: Launch) -> str:
    module = importlib.import_module(f"freight.launchers.{launch.launcher}")
    return module.render(launch)


def launch_command(job: dict, run_dir: str, task_dir: Path, argv: list[str], env: dict[str, str],
                   host_env: dict[str, str]) -> Launched:
    """Render the job's launcher script into the task folder and say how to run it. With an
    image, the script runs here and puts the image's prefix before Ray/torchrun and the program.
    FreightError when the engine is missing or refuses."""
    resources = job.get("resources", {})
    common = {"launcher": job["launcher"], "scheduler": scheduler_of(host_env),
              "nodes": int(resources.get("nodes") or 1), "cpus": int(resources.get("cpus") or 1),
              "gpus": int(resources.get("gpus") or 0), "job_tag": _job_tag(host_env),
              "join_timeout_s": _whole(host_env.get("FREIGHT_JOIN_TIMEOUT"), JOIN_TIMEOUT_S),
              "grace_s": _stop_grace(host_env)}
    if job.get("container"):
        from freight.engines.wrap import container_command, in_image

        wrapped = container_command(job, run_dir, [], env, host_env)
        launch = Launch(python="python3", driver=in_image(argv), prefix=wrapped.argv, **common)
        script_env, note = wrapped.env, wrapped.note + f"; {job['launcher']} over {common['nodes']} node(s)"
    else:
        launch = Launch(python=job.get("python") or sys.executable, driver=list(argv), **common)
        script_env, note = env, f"freight: {job['launcher']} over {common['nodes']} node(s) ({launch.scheduler})"
    script = Path(task_dir) / f"launch-{job['launcher']}.sh"
    script.write_text(render(launch), encoding="utf-8")
    return Launched(["bash", str(script)], script_env, note)


def _whole(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else default


def _stop_grace(env: Mapping[str, str]) -> int:
    """GRACE_S, or less when the wrapper's own grace is shorter (it must not kill the script first)."""
    try:
        wrapper_grace = float(env.get("FREIGHT_KILL_GRACE", 10))
    except ValueError:
        wrapper_grace = 10
    return max(1, min(GRACE_S, int(wrapper_grace / 2)))


def _job_tag(env: Mapping[str, str]) -> str:
    """Names this job among others on the same node (torchrun's rendezvous id)."""
    for name in ("SLURM_JOB_ID", "JOB_ID"):
        if env.get(name, "").isdigit():
            return f"freight-{env[name]}"
    return f"freight-{os.getpid()}"


# --- before submitting ---------------------------------------------------------------------


def check_launcher(job, target_name: str) -> None:
    """Refuse, in one line, a launcher job that cannot start: GPUs without a per-node count
    that makes sense, or (without an image, for an interpreter on this machine) the launcher's
    package missing. On a cluster the interpreter usually is the same shared environment."""
    if job.launcher not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {job.launcher!r}", fix="use --ray or --torchrun")
    if job.container is None:
        require_module(job.launcher, job.python or sys.executable)


def require_module(launcher: str, python: str) -> None:
    """MissingToolError naming the extra when `python` cannot import the launcher's package."""
    import subprocess

    module = MODULES[launcher]
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return  # not runnable here (a cluster path): the job script says so on the node
    if done.returncode != 0:
        raise MissingToolError(f"{module} is not installed for {python} (needed by --{launcher})",
                               fix=EXTRA_FIX[launcher])
