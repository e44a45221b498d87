"""`freight run`: turn a script, notebook, folder or command into a tracked run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from freight.cli.app import app, err, print_json, warn
from freight.errors import InputError
from freight.sched import TARGETS

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
    target: str = typer.Option(None, "--target", "-t", help=f"Where to run: {', '.join(TARGETS)} (default: local)."),
    gpu_type: str = typer.Option(None, "--gpu-type", help="GPU model, where the target can ask for one (a100)."),
    partition: str = typer.Option(None, "--partition", "-p", help="Slurm partition."),
    queue: str = typer.Option(None, "--queue", "-q", help="Grid Engine, PBS or LSF queue."),
    account: str = typer.Option(None, "--account", "-A", help="Account (project) to charge."),
    qos: str = typer.Option(None, "--qos", help="Slurm quality of service."),
    sbatch_arg: list[str] = typer.Option(None, "--sbatch-arg", help="Extra sbatch argument, e.g. --sbatch-arg=--exclusive (repeatable)."),
    qsub_arg: list[str] = typer.Option(None, "--qsub-arg", help="Extra qsub argument, e.g. --qsub-arg='-m ea' (repeatable)."),
    image: str = typer.Option(None, "--image", help="Run the program inside this image (docker://…, a .sif, a Charliecloud image dir), or auto: build the project's image here and use it."),
    engine: str = typer.Option(None, "--engine", help="apptainer | singularity | charliecloud | podman | docker | enroot | pyxis."),
    mount: list[str] = typer.Option(None, "--mount", help="HOST[:CONTAINER[:ro]] bound into the container (repeatable)."),
    base: str = typer.Option(None, "--base", help="With --image auto: build on this base image (default: chosen from the requirements)."),
    bake: bool = typer.Option(None, "--bake/--no-bake", help="With --image auto: copy the code into the image (default: bind it in at run time)."),
    deps: str = typer.Option(None, "--deps", help="With --image auto: image (default) | outside (a uv environment on shared storage, bound in)."),
    nodes: int = typer.Option(None, "--nodes", help="Nodes per task (multi-node work: with --ray or --torchrun)."),
    ray: bool = typer.Option(False, "--ray", help="Start a Ray cluster over the task's nodes and run the program as its driver."),
    torchrun: bool = typer.Option(False, "--torchrun", help="Run the program with torchrun, one launcher per node."),
    gpus_per_node: int = typer.Option(None, "--gpus-per-node", help="GPUs on each node of a multi-node task."),
    pack: int = typer.Option(None, "--pack", help="Run K tasks one after another per array element (many short tasks)."),
    smoke_first: bool = typer.Option(False, "--smoke-first", help="Run the first row alone (time limit at most 10 min) and submit the rest only if it succeeds; exit 1 if it fails."),
    signal: str = typer.Option(None, "--signal", help="Signal the program ahead of the time limit: USR1@90."),
    checkpoint_cmd: str = typer.Option(None, "--checkpoint-cmd", help="Command the task wrapper runs when that signal arrives."),
    requeue: bool = typer.Option(None, "--requeue/--no-requeue", help="Requeue a task that was preempted or signalled."),
    max_requeue: int = typer.Option(None, "--max-requeue", help="Most times one task is requeued (default 3)."),
    profile: str = typer.Option(None, "--profile", help="Site settings (freight profiles list): chtc, tacc-frontera, …"),
    target_opt: list[str] = typer.Option(None, "--target-opt", help="KEY=VALUE for the target, as in \\[targets.NAME] of freight.toml (repeatable)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the tasks and show progress."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would run; run nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
) -> None:
    """Run a script, notebook, folder or command as a job, or as a sweep of tasks."""
    request = run_request(dict(locals()))  # first: locals() are the parsed options, by name
    # Imported here, not at the top: every other command would pay for pydantic and the store.
    from freight.cli.follow import finish_run
    from freight.runs import launch
    from freight.runs.layout import freight_home
    from freight.runs.store import RunStore

    home = freight_home()
    job, config, notes = launch.build_job(request, home)
    for note in notes:
        warn(note)
    if dry_run:
        _print_dry_run(job, config.target)
        return
    job, env_reason = launch.prepare(job)
    store = RunStore(home)
    if smoke_first and len(job.tasks) > 1 and not as_json:
        from freight.spec.resources import format_duration

        limit = format_duration(launch.smoke_limit(job.resources.time_s))
        err.print(f"--smoke-first: row 0 runs alone first (time limit {limit}); the others follow if it succeeds")
    record = launch.submit(store, job, config.target, smoke_first=smoke_first)
    if not as_json:
        err.print(f"run [bold]{record.id}[/]: {len(job.tasks)} task(s) on {config.target}; python: {env_reason}")
    code = finish_run(store, record, wait=wait, as_json=as_json)
    raise typer.Exit(code)


# `freight run` options that become merge_cli overrides under the same name (or the one given).
_OVERRIDES = {name: name for name in (
    "zip_", "sweep_file", "random", "seed", "cpus", "mem", "gpus", "time", "env", "name", "target",
    "max_parallel", "gpu_type", "image", "engine", "pack", "signal", "checkpoint_cmd", "requeue",
    "max_requeue", "profile", "base", "bake", "deps", "nodes")} | {"sweep": "sweep", "mount": "mounts"}


def run_request(params: dict):
    """The RunRequest of `freight run`'s parsed options, by parameter name. `freight script` and
    `freight shell` take (some of) the same options and build their request here too: an option
    a command does not have is "not given"."""
    from freight.runs import launch

    given = {key: params.get(name) for name, key in _OVERRIDES.items()}
    given["launcher"] = _launcher(params)
    if params.get("gpus_per_node") is not None:  # a multi-node task's `gpus` are per node
        if given.get("gpus") not in (None, params["gpus_per_node"]):
            raise InputError("--gpus and --gpus-per-node disagree", fix="give one of them (a multi-node task's GPUs are per node)")
        given["gpus"] = params["gpus_per_node"]
    options = launch.target_options_from_flags(
        params.get("target_opt") or [], partition=params.get("partition"), queue=params.get("queue"),
        account=params.get("account"), qos=params.get("qos"),
        sbatch_args=params.get("sbatch_arg") or None, qsub_args=params.get("qsub_arg") or None)
    return launch.RunRequest(params.get("source"), list(params.get("args") or []),
                             {k: v for k, v in given.items() if v not in (None, [])},
                             target_options=options, smoke_first=bool(params.get("smoke_first")))


def _launcher(params: dict) -> str | None:
    if params.get("ray") and params.get("torchrun"):
        raise InputError("--ray and --torchrun cannot both launch the program", fix="pick one of them")
    return "ray" if params.get("ray") else "torchrun" if params.get("torchrun") else None


def _print_dry_run(job, target_name: str) -> None:
    from freight.task import command_argv

    err.print(f"{len(job.tasks)} task(s) on {target_name}, in {job.workdir}; each: {job.resources.cpus} CPU(s)"
              + (f", {job.resources.mem_mb} MB" if job.resources.mem_mb else "")
              + (f", {job.resources.gpus} GPU(s)" if job.resources.gpus else ""))
    job_data = job.model_dump(mode="json", exclude={"tasks"})
    for task in job.tasks:
        print_json(json.dumps({"index": task.index, "params": task.params,
                               "argv": command_argv(job_data, task.params)}))
