"""Running a task's program in its job's container, and checking a container job before it is
submitted. Stdlib-only: freight.task imports this on compute nodes, for container jobs only.

Inside the container, the program sees:
- the project folder (job.workdir) and the run folder bound at the same paths as on the host,
  so paths in params and results mean the same on both sides, plus job.container.mounts;
- exactly the task's variables: FREIGHT_*, FREIGHT_PARAM_*, thread limits, the job's env,
  PYTHONPATH with freight's report shim, and the scheduler's GPU and job variables (below).
  Nothing else of the host's environment, so $HOME (and its content) stays out unless asked for;
- `python` in the command means the image's `python3`.

The wrapper itself stays on the host: state files, signals and the time limit work unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from freight.engines import get_engine, pick_engine
from freight.engines.base import Mount, parse_mounts

SHIM_DIR = "shim"  # in the run folder: a `freight` package holding freight.report only
# Host variables a containerized program still needs: the GPUs the scheduler gave the task,
# and which job/array element it is (frameworks such as Lightning read SLURM_*).
PASSED_THROUGH = (
    "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "PYTHONUNBUFFERED",
    "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_CPUS_PER_TASK",
    "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_JOB_NODELIST",
    "JOB_ID", "SGE_TASK_ID", "NSLOTS",
)


@dataclass(frozen=True)
class Wrapped:
    """What the task wrapper starts instead of the bare program."""

    argv: list[str]
    env: dict[str, str]  # for the engine process itself (the host's, with $USER set)
    note: str  # one line for the task's log


def container_command(job: dict, run_dir: str, argv: list[str], env: dict[str, str],
                      host_env: dict[str, str]) -> Wrapped:
    """The engine command that runs `argv` in the job's image. `env` is the program's full
    environment as the wrapper built it on top of `host_env`; only the task's part goes in.
    FreightError (MissingToolError, ConfigError) when the engine is missing or refuses."""
    spec = job["container"]
    engine = pick_engine(spec.get("engine"), image=spec["image"])
    mounts = task_mounts(spec.get("mounts", []), job["workdir"], run_dir)
    engine.prepare(spec["image"], mounts)
    gpus = int(job.get("resources", {}).get("gpus") or 0)
    full = engine.exec_argv(
        spec["image"], in_image(argv, spec.get("python")), mounts=[m.spec() for m in mounts],
        env=inside_env(job, run_dir, env, host_env), workdir=job["workdir"], gpus=gpus,
    )
    note = f"freight: running in {engine.name} image {spec['image']}"
    if gpus:  # say how they get in (ch-run has no GPU flag at all)
        note += f"; GPUs: {engine.gpu_note}"
    return Wrapped(full, engine_env(host_env), note)


def task_mounts(job_mounts: list[str], workdir: str, run_dir: str) -> list[Mount]:
    """The project folder, the run folder (unless inside it) and the job's mounts, in that
    order, so a job mount may cover part of the project."""
    specs = [workdir]
    if not _inside(run_dir, workdir):
        specs.append(run_dir)
    return parse_mounts([*specs, *job_mounts], workdir)


def inside_env(job: dict, run_dir: str, env: dict[str, str], host_env: dict[str, str]) -> dict[str, str]:
    """The task's variables: what the wrapper added or changed on top of the host's
    environment, the job's own env, and the host variables in PASSED_THROUGH."""
    wanted = set(job.get("env", {})) | set(PASSED_THROUGH)
    inside = {k: v for k, v in env.items() if k in wanted or host_env.get(k) != v or k.startswith("FREIGHT_")}
    shim = os.path.join(run_dir, SHIM_DIR)
    first = list(job["container"].get("pythonpath") or []) if job.get("container") else []
    if os.path.isdir(shim):  # `from freight import report` in the image's python
        first.append(shim)
    if first:  # a package project built into an image: its source, editable (freight.image.auto)
        inside["PYTHONPATH"] = os.pathsep.join(p for p in (*first, job.get("env", {}).get("PYTHONPATH")) if p)
    return inside


def in_image(argv: list[str], python: str | None = None) -> list[str]:
    """`python` is the image's python3 (Debian-based images have no `python`), or the
    interpreter freight chose when it built the image (`python3` too, then)."""
    if python and argv and argv[0] in ("python", "python3"):
        return [python, *argv[1:]]
    return ["python3", *argv[1:]] if argv and argv[0] == "python" else list(argv)


def engine_env(host_env: dict[str, str]) -> dict[str, str]:
    """The engine's own environment: the host's, with $USER (ch-run refuses to start without it;
    Grid Engine jobs may not have it)."""
    out = dict(host_env)
    if not out.get("USER"):
        import pwd

        out["USER"] = pwd.getpwuid(os.getuid()).pw_name
    return out


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


# --- before submitting ------------------------------------------------------------------------


def check_container(job, target: str) -> None:
    """Refuse, in one line, a container job that cannot run: an engine that does not fit the
    target, bad mounts, and, for the local target, an engine or image file missing here.

    On a cluster the engine lives on the compute nodes (often behind `module load`), so it is
    not looked for on the login node: the task fails there with the reason in its state file."""
    from freight.errors import ConfigError, InputError

    spec = job.container
    if spec.engine == "pyxis" and target != "slurm":
        raise ConfigError("the pyxis engine is Slurm's srun plugin", fix="use --target slurm or another --engine")
    if target == "local":
        engine = pick_engine(spec.engine, image=spec.image)
        if spec.image.startswith(("/", "./", "../", "~")) and not os.path.exists(os.path.expanduser(spec.image)):
            raise InputError("container image not found", path=spec.image, fix="check the --image path")
    else:
        engine = get_engine(spec.engine or "podman")  # any engine checks the mounts' syntax
    mounts = task_mounts(list(spec.mounts), job.workdir, os.path.join(job.workdir, ".freight"))
    engine.exec_argv(spec.image, ["true"], mounts=[m.spec() for m in mounts], env=dict(job.env),
                     workdir=job.workdir, gpus=job.resources.gpus)


def install_shim(run_dir: str) -> None:
    """Write freight.report (and the stdlib-only modules it imports) into the run folder, which
    every engine binds, so the program can `from freight import report` inside the image."""
    from freight.engines.venv import shim_files

    for relative, content in shim_files().items():
        path = os.path.join(run_dir, SHIM_DIR, "freight", relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"  # a retry may rewrite it while other tasks import it
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
