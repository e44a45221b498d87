"""`freight run`: turn a script, notebook, folder or command into a tracked run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from freight.cli.app import app, err, print_json, warn

RUN_SETTINGS = {"allow_interspersed_args": False, "ignore_unknown_options": True}


@app.command(context_settings=RUN_SETTINGS)
def run(
    source: str = typer.Argument(None, help="train.py, notebook.ipynb, a project folder, or a program (after --)."),
    args: list[str] = typer.Argument(None, help="Arguments for the program; {name} is replaced by a sweep parameter."),
    sweep: list[str] = typer.Option(None, "--sweep", "-s", help="NAME=V1,V2,… or NAME=log:1e-4:1e-1:5 (repeatable; grid)."),
    zip_: bool = typer.Option(None, "--zip/--grid", help="Pair the --sweep lists instead of taking every combination."),
    sweep_file: Path = typer.Option(None, "--sweep-file", help="Parameter rows: TOML, CSV or JSONL."),
    random: int = typer.Option(None, "--random", help="Draw N random rows from the sweep's dimensions."),
    seed: int = typer.Option(None, "--seed", help="Seed of --random."),
    cpus: int = typer.Option(None, "--cpus", help="CPU cores per task."),
    mem: str = typer.Option(None, "--mem", help="Memory per task: 512M, 4G."),
    gpus: int = typer.Option(None, "--gpus", help="GPUs per task."),
    time: str = typer.Option(None, "--time", help="Time limit per task: 90 (minutes), 1:30:00, 2h."),
    max_parallel: int = typer.Option(None, "--max-parallel", help="Most tasks running at once."),
    env: str = typer.Option(None, "--env", help="current | venv | auto (default: auto)."),
    name: str = typer.Option(None, "--name", help="Run name (default: the script's)."),
    target: str = typer.Option(None, "--target", "-t", help="Where to run: local, slurm, sge (default: local)."),
    gpu_type: str = typer.Option(None, "--gpu-type", help="GPU model, where the target can ask for one (a100)."),
    partition: str = typer.Option(None, "--partition", "-p", help="Slurm partition."),
    queue: str = typer.Option(None, "--queue", "-q", help="Grid Engine queue."),
    account: str = typer.Option(None, "--account", "-A", help="Account (project) to charge."),
    qos: str = typer.Option(None, "--qos", help="Slurm quality of service."),
    sbatch_arg: list[str] = typer.Option(None, "--sbatch-arg", help="Extra sbatch argument, e.g. --sbatch-arg=--exclusive (repeatable)."),
    qsub_arg: list[str] = typer.Option(None, "--qsub-arg", help="Extra qsub argument, e.g. --qsub-arg='-m ea' (repeatable)."),
    image: str = typer.Option(None, "--image", help="Run the program inside this image (docker://…, a .sif, a Charliecloud image dir)."),
    engine: str = typer.Option(None, "--engine", help="apptainer | singularity | charliecloud | podman | docker | enroot | pyxis."),
    mount: list[str] = typer.Option(None, "--mount", help="HOST[:CONTAINER[:ro]] bound into the container (repeatable)."),
    pack: int = typer.Option(None, "--pack", help="Run K tasks one after another per array element (many short tasks)."),
    smoke_first: bool = typer.Option(False, "--smoke-first", help="Run the first row alone with a short limit; submit the rest only if it succeeds."),
    signal: str = typer.Option(None, "--signal", help="Signal the program ahead of the time limit: USR1@90."),
    checkpoint_cmd: str = typer.Option(None, "--checkpoint-cmd", help="Command the task wrapper runs when that signal arrives."),
    requeue: bool = typer.Option(None, "--requeue/--no-requeue", help="Requeue a task that was preempted or signalled."),
    max_requeue: int = typer.Option(None, "--max-requeue", help="Most times one task is requeued (default 3)."),
    profile: str = typer.Option(None, "--profile", help="Site settings (freight profiles list): chtc, tacc-frontera, …"),
    target_opt: list[str] = typer.Option(None, "--target-opt", help="KEY=VALUE for the target, as in [targets.NAME] of freight.toml (repeatable)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the tasks and show progress."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would run; run nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
) -> None:
    """Run a script, notebook, folder or command as a job, or as a sweep of tasks."""
    # Imported here, not at the top: every other command would pay for pydantic and the store.
    from freight.cli.follow import finish_run
    from freight.runs import launch
    from freight.runs.layout import freight_home
    from freight.runs.store import RunStore

    overrides = dict(sweep=sweep or None, zip_=zip_, sweep_file=sweep_file, random=random,
                     seed=seed, cpus=cpus, mem=mem, gpus=gpus, time=time, env=env, name=name,
                     target=target, max_parallel=max_parallel, gpu_type=gpu_type, image=image,
                     engine=engine, mounts=mount or None, pack=pack, signal=signal,
                     checkpoint_cmd=checkpoint_cmd, requeue=requeue, max_requeue=max_requeue,
                     profile=profile)
    options = launch.target_options_from_flags(
        target_opt or [], partition=partition, queue=queue, account=account, qos=qos,
        sbatch_args=sbatch_arg or None, qsub_args=qsub_arg or None)
    request = launch.RunRequest(source, list(args or []), {k: v for k, v in overrides.items() if v is not None},
                                target_options=options, smoke_first=smoke_first)
    home = freight_home()
    job, config, notes = launch.build_job(request, home)
    for note in notes:
        warn(note)
    if dry_run:
        _print_dry_run(job, config.target)
        return
    job, env_reason = launch.prepare(job)
    store = RunStore(home)
    record = launch.submit(store, job, config.target)
    if not as_json:
        err.print(f"run [bold]{record.id}[/]: {len(job.tasks)} task(s) on {config.target}; python: {env_reason}")
    code = finish_run(store, record, wait=wait, as_json=as_json)
    raise typer.Exit(code)


def _print_dry_run(job, target_name: str) -> None:
    from freight.task import command_argv

    err.print(f"{len(job.tasks)} task(s) on {target_name}, in {job.workdir}; each: {job.resources.cpus} CPU(s)"
              + (f", {job.resources.mem_mb} MB" if job.resources.mem_mb else "")
              + (f", {job.resources.gpus} GPU(s)" if job.resources.gpus else ""))
    job_data = job.model_dump(mode="json", exclude={"tasks"})
    for task in job.tasks:
        print_json(json.dumps({"index": task.index, "params": task.params,
                               "argv": command_argv(job_data, task.params)}))
