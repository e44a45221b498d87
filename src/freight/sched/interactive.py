"""`freight shell`: a shell (or one command) in a job's environment, here or on a compute node.

The argv is built here and exec'd by the CLI, so every target's is an exact list to test:

    local:  bash -c SETUP freight-shell INNER…
    slurm:  srun [--pty] --job-name=… --partition=… --time=… --cpus-per-task=… --mem=… --gres=…
                 bash -c SETUP freight-shell INNER…
    sge:    qrsh -now no -pty y|n -N … -q … -l h_rt=… -pe smp N -l h_vmem=… -l gpu_card=N
                 'bash' '-c' 'SETUP' 'freight-shell' 'INNER'…   (qrsh joins its words and the
                 node's shell splits them again, so each goes quoted)

SETUP (templates/shell_setup.sh.j2) is what the job script does before the task: the site's
`module load`, the job's environment (thread limits as the task wrapper sets them, the site's
and the project's variables), the tasks' python first on PATH (no image), `cd` to the job's
folder; then it becomes INNER. INNER is the
shell, or the engine's exec of it in the job's image (engines: exec_argv(…, interactive=True))
with the same mounts, env and workdir as a task. The resources are one task's: its cpus,
memory, GPUs and time, on one node, in the partition/queue the job would use.
"""

from __future__ import annotations

import os
import shlex

from freight.errors import ConfigError
from freight.sched.render import render_template
from freight.spec.job import Job
from freight.spec.resources import format_duration

SHELL_TARGETS = ("local", "slurm", "sge")
ARGV0 = "freight-shell"  # $0 of the setup script: what `ps` shows while it runs


def shell_argv(job: Job, target: str, command: list[str], *, tty: bool = True) -> list[str]:
    """The argv that runs `command` (a shell, or any program) in the job's environment."""
    if target not in SHELL_TARGETS:
        raise ConfigError(f"freight shell cannot open a shell on target {target!r}",
                          fix=f"use --target {', '.join(SHELL_TARGETS)}")
    engine = shell_engine(job, here=target == "local")
    inner = container_argv(job, command, engine, tty=tty)
    on_node = ["bash", "-c", setup_script(job, target, engine), ARGV0, *inner]
    if target == "slurm":
        return [*srun_prefix(job, tty=tty), *on_node]
    if target == "sge":
        return [*qrsh_prefix(job, tty=tty), *(shlex.quote(word) for word in on_node)]
    return on_node


def container_argv(job: Job, command: list[str], engine, *, tty: bool) -> list[str]:
    """command, inside the job's image when it has one, bound and set up as a task's program
    (engines/wrap.py): the project folder and the job's mounts, its env, its folder, its GPUs."""
    if engine is None:
        return list(command)
    from freight.engines.base import parse_mounts

    spec = job.container
    mounts = parse_mounts([job.workdir, *spec.mounts], job.workdir)
    engine.prepare(spec.image, mounts)
    return engine.exec_argv(spec.image, list(command), mounts=[m.spec() for m in mounts], env=job_env(job),
                            workdir=job.workdir, gpus=job.resources.gpus, interactive=tty)


def shell_engine(job: Job, *, here: bool):
    """The engine of the job's image (None: no image). On a cluster a named engine is not looked
    for on this login node: it often comes with `module load`, on the compute nodes only."""
    from freight.engines import get_engine, pick_engine
    from freight.errors import MissingToolError

    if job.container is None:
        return None
    name, image = job.container.engine, job.container.image
    if name and not here:
        return get_engine(name)
    try:
        return pick_engine(name, image=image)
    except MissingToolError as exc:
        if here:
            raise
        raise ConfigError(f"no container engine here to guess the compute nodes' by ({exc.problem})",
                          fix="name it with --engine (or [container] engine)") from None


def job_env(job: Job) -> dict[str, str]:
    """What a task's program gets besides the scheduler's own: thread limits, then the job's env."""
    from freight.task import THREAD_VARS

    return {**dict.fromkeys(THREAD_VARS, str(job.resources.cpus)), **job.env}


def passthrough_lines(engine) -> list[str]:
    """Apptainer/Singularity shells: the node's GPU and job variables (as a task gets them, see
    engines/wrap.py), handed through --cleanenv by their APPTAINERENV_/SINGULARITYENV_ names.
    Other engines get the job's own variables only."""
    prefix = getattr(engine, "env_var_prefix", None)
    if not prefix:
        return []
    from freight.engines.wrap import PASSED_THROUGH

    return [f'[ -z "${{{name}+x}}" ] || export {prefix}{name}="${name}"' for name in PASSED_THROUGH]


def setup_script(job: Job, target: str, engine=None) -> str:
    """What runs on the node before the shell (templates/shell_setup.sh.j2)."""
    modules, env = [], job_env(job)
    if target == "slurm":
        from freight.sched.slurm import slurm_options

        options = slurm_options(job)
        modules, env = options.modules, {**options.env, **env}
    # `python` in the shell is the tasks' (the job's venv, or the interpreter that runs freight).
    python_dir = os.path.dirname(job.python) if job.python and job.container is None else None
    return render_template("shell_setup.sh.j2", sge_path=target == "sge", modules=modules, env=env,
                           python_dir=python_dir, workdir=job.workdir, container=engine is not None,
                           passthrough=passthrough_lines(engine))


def srun_prefix(job: Job, *, tty: bool) -> list[str]:
    """srun with one task's resources, as the job's sbatch script asks for them, on one node."""
    from freight.sched.slurm import gpu_request, slurm_options

    options, res = slurm_options(job), job.resources
    flags = [
        ("--job-name", f"{job.name}-shell"), ("--partition", options.partition_for(res.gpus)),
        ("--account", options.account), ("--qos", options.qos),
        ("--time", format_duration(res.time_s) if res.time_s else None),
        ("--nodes", 1), ("--ntasks", 1), ("--cpus-per-task", res.cpus),
        ("--mem", f"{res.mem_mb}M" if res.mem_mb else None),
        gpu_request(res.gpus, res.gpu_type, options.gpu_syntax),
    ]
    words = [f"{flag}={value}" for flag, value in flags if value is not None]
    # srun takes sbatch's options too (--constraint, --reservation …): the site's extra arguments.
    return ["srun", *(["--pty"] if tty else []), *words, *options.sbatch_args]


def qrsh_prefix(job: Job, *, tty: bool) -> list[str]:
    """qrsh with one task's resources, as the job's qsub script asks for them."""
    from freight.sched.sge import job_name, load_options, resource_context

    options = load_options(job.target_options)
    context = resource_context(job, options)
    # -now no: wait in the queue for a slot, as a batch job would, instead of failing at once.
    argv = ["qrsh", "-now", "no", "-pty", "y" if tty else "n", "-N", job_name(f"{job.name}-shell")]
    argv += ["-w", "e"] if context["verify"] else []
    for flag, key in (("-q", "queue"), ("-P", "project"), ("-A", "account")):
        argv += [flag, context[key]] if context[key] else []
    argv += ["-l", f"h_rt={context['h_rt']}"] if context["h_rt"] else []
    argv += ["-pe", context["pe"], str(context["pe_slots"])] if context["pe_slots"] else []
    for key in ("mem", "gpus"):
        argv += ["-l", context[key]] if context[key] else []
    for line in context["extra"]:
        argv += shlex.split(line)
    return argv
