"""`freight shell`: an interactive shell in a job's environment, here or on a compute node."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import typer

from freight.cli.app import app, err, out
from freight.cli.options import borrow_options, option
from freight.cli.run import run

# The options of `freight run` that shape where a task runs and what it sees.
SHELL_OPTIONS = ("source", "cpus", "mem", "gpus", "time", "gpu_type", "target", "partition", "queue",
                 "account", "qos", "sbatch_arg", "qsub_arg", "image", "engine", "mount", "profile",
                 "target_opt", "env")
EXTRA = [
    option("command", str, typer.Option(None, "--command", "-c", help="Run this shell command instead of an interactive shell.")),
    option("shell", str, typer.Option("bash", "--shell", help="The shell to start (inside the image, when there is one).")),
    option("dry_run", bool, typer.Option(False, "--dry-run", help="Print the command that would start the shell; start nothing.")),
]


@app.command()
@borrow_options(run, keep=SHELL_OPTIONS, extra=EXTRA)
def shell(**params) -> None:
    """A shell in the job's environment: its image, mounts, env, folder and the site's modules;
    on a compute node with one task's resources for --target slurm (srun --pty) or sge (qrsh)."""
    from freight.cli.run import run_request
    from freight.errors import MissingToolError
    from freight.runs import launch
    from freight.runs.layout import freight_home
    from freight.sched.interactive import shell_argv
    from freight.spec.job import Job

    request = run_request(params)
    if request.source is None:  # the shell stands in for the job's command
        request.overrides.setdefault("command", [params["shell"]])
    job, config, _ = launch.build_job(request, freight_home())
    if request.source is None and config.name is None:  # named after the project, not the shell
        job = Job.model_validate({**job.model_dump(), "name": Path(job.workdir).name})
    job, _ = launch.prepare(job)  # the tasks' python: a venv built once, or this interpreter
    command = [params["shell"]] if params["command"] is None else [params["shell"], "-c", params["command"]]
    argv = shell_argv(job, config.target, command, tty=sys.stdin.isatty())
    if params["dry_run"]:
        out.file.write(shlex.join(argv) + "\n")
        return
    if shutil.which(argv[0]) is None:
        raise MissingToolError(f"{argv[0]} is not installed here (needed for freight shell --target {config.target})",
                               fix="run freight on the cluster's login node")
    image = f" in {job.container.image}" if job.container else ""
    err.print(f"freight shell: {config.target}{image}, in {job.workdir}", markup=False, highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(argv[0], argv)
