"""From what the user typed to a submitted run: the `freight run` pipeline.

    RunRequest ─▶ resolve the source (script, notebook, folder, command) ─▶ Config (profile + file + flags)
               ─▶ Job (command, sweep tasks, resources, requirements) ─▶ environment (current/venv)
               ─▶ RunStore.create_run ─▶ Target.check/submit ─▶ RunStore.mark_submitted

Nothing here waits on tasks (runs/watch.py follows them), except --smoke-first, which waits
for the first row before submitting the rest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from freight.errors import ConfigError, FreightError, InputError
from freight.fsutil import read_json, write_json_atomic
from freight.runs.store import RunRecord, RunStore
from freight.sched import get_target
from freight.spec.config import Config, load_config, merge_cli
from freight.spec.job import Container, EnvMode, Job, Preemption
from freight.spec.resources import Resources
from freight.spec.state import TaskState
from freight.spec.sweep import expand_params

PYTHON_COMMANDS = ("python", "python3")
SMOKE_LIMIT_S = 600  # --smoke-first: the first row's time limit (or the task's, when shorter)


@dataclass
class RunRequest:
    """The command line (or the Python API), before any file is read. None = not given."""

    source: str | None = None  # a script, a notebook, a folder, or a program on PATH
    args: list[str] = field(default_factory=list)
    overrides: dict = field(default_factory=dict)  # merge_cli keywords: cpus, mem, sweep, …
    cwd: Path = field(default_factory=Path.cwd)
    target_options: dict = field(default_factory=dict)  # on top of [targets.<name>]
    smoke_first: bool = False  # run the first row alone, with a short limit, before the rest


@dataclass
class Source:
    """What the request runs: the command before the sweep, where, and which config applies."""

    command: list[str]
    workdir: Path
    config: Config
    analyze: Path | None = None  # what `freight deps` should read for requirements
    notes: list[str] = field(default_factory=list)


def build_job(request: RunRequest, home: Path) -> tuple[Job, Config, list[str]]:
    """The Job the request describes, the merged config, and notes for the user."""
    from freight.sites.profile import apply_profile

    source = resolve_source(request, home)
    config = apply_profile(merge_cli(source.config, **request.overrides))  # the site's underneath
    command = config.command if request.source is None or source.command == [] else source.command
    if not command:
        raise InputError(
            "nothing to run: no script or command given and no `command` in freight.toml",
            fix="`freight run train.py`, `freight run -- CMD ARGS`, or set command in freight.toml",
            path=source.workdir,
        )
    sweep_file = Path(config.sweep.file) if config.sweep.file else None
    tasks = expand_params(config.sweep.params, mode=config.sweep.mode, sweep_file=sweep_file,
                          random_n=config.sweep.random, seed=config.sweep.seed)
    requirements, notes = _requirements(source, config, command)
    target_options = _target_options(config.targets.get(config.target, {}), request.target_options)
    job = Job(
        name=config.name or _default_name(request, command),
        command=list(command),
        workdir=str(source.workdir),
        env=dict(config.env_vars),
        resources=_resources(config),
        tasks=tasks,
        env_mode=config.env,
        requirements=requirements,
        max_parallel=config.max_parallel,
        container=_container(config),
        pack=config.pack or 1,
        preemption=_preemption(config, target_options),
        launcher=config.launcher,
        target_options=target_options,
    )
    multi_node = job.resources.nodes > 1 and get_target(config.target).capabilities.multi_node
    if multi_node and job.launcher is None:  # allowed (MPI), but easy to get wrong
        notes.append(f"--nodes {job.resources.nodes} without --ray or --torchrun: the program starts on the "
                     "first node only and must reach the others itself (srun, mpirun)")
    return job, config, source.notes + notes


def resolve_source(request: RunRequest, home: Path) -> Source:
    if request.source is None:  # `freight run` in a project with a freight.toml command
        return Source([], request.cwd, load_config(request.cwd), analyze=request.cwd)
    path = (request.cwd / request.source)
    if path.is_dir():
        config = load_config(path)
        extra = list(request.args)
        command = [*config.command, *extra] if config.command else []
        return Source(command, path.resolve(), config, analyze=path.resolve())
    if path.is_file() and path.suffix == ".ipynb":
        return _notebook_source(path, request, home)
    if path.is_file() and path.suffix == ".py":
        command = ["python", request.source, *request.args]
        return Source(command, request.cwd, load_config(path), analyze=path)
    program = shutil.which(request.source) if os.sep not in request.source else None
    if program is None and not path.is_file():
        raise InputError(
            "no such script, notebook, folder or program",
            fix="check the path, or put the command after `--`", path=request.source,
        )
    return Source([request.source, *request.args], request.cwd, load_config(request.cwd))


def _notebook_source(path: Path, request: RunRequest, home: Path) -> Source:
    """A notebook runs as the script `freight convert` makes of it, kept under .freight/."""
    from freight.deps.convert import convert_notebook, write_script

    conversion = convert_notebook(path)
    digest = hashlib.sha256(conversion.script.encode()).hexdigest()[:12]
    script = home / "converted" / f"{path.stem}-{digest}.py"
    if not script.exists():
        script.parent.mkdir(parents=True, exist_ok=True)
        write_script(conversion.script, script, path)
    command = ["python", str(script), *request.args]
    config = load_config(path)
    config = merge_cli(config, requirements=[*config.requirements, *conversion.requirements])
    return Source(command, request.cwd, config, analyze=script, notes=list(conversion.warnings))


def _requirements(source: Source, config: Config, command: list[str]) -> tuple[list[str], list[str]]:
    """What the tasks' environment must hold: the config's list plus what `freight deps` finds.
    The analysis is skipped when it cannot matter: --env current, or a non-Python command."""
    declared = list(config.requirements)
    runs_python = command[0] in PYTHON_COMMANDS
    if config.env is EnvMode.current or not runs_python or source.analyze is None:
        return declared, []
    from freight.spec.init import find_requirements

    found, notes = find_requirements(source.analyze)
    return _merge_requirements(declared, found or []), list(notes)


def _merge_requirements(first: list[str], second: list[str]) -> list[str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen = {canonicalize_name(Requirement(r).name) for r in first}
    return first + [r for r in second if canonicalize_name(Requirement(r).name) not in seen]


def target_options_from_flags(pairs: list[str], **flags) -> dict:
    """`--target-opt KEY=VALUE` pairs (VALUE read as JSON when it is JSON) plus named flags."""
    import json

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--target-opt {pair!r} is not KEY=VALUE", fix="e.g. --target-opt partition=gpu")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    options.update({key: value for key, value in flags.items() if value is not None})
    return options


def _target_options(from_file: dict, from_flags: dict) -> dict:
    """Flags replace the file's settings, except extra scheduler arguments, which add up."""
    merged = dict(from_file)
    for key, value in from_flags.items():
        if key.endswith("_args") and isinstance(value, list):
            merged[key] = [*merged.get(key, []), *value]
        else:
            merged[key] = value
    return merged


def _container(config: Config) -> Container | None:
    wanted = config.container
    if wanted.image != "auto":
        _refuse_auto_only(wanted)
    if wanted.image is None:
        return None
    if wanted.image == "auto":
        from freight.image.auto import check_target

        check_target(config.target)
    return Container(image=wanted.image, engine=wanted.engine, mounts=list(wanted.mounts),
                     base=wanted.base, bake=wanted.bake, deps=wanted.deps)


def _refuse_auto_only(wanted) -> None:
    """--base, --bake and --deps outside shape the image that --image auto builds: with another
    image, or none, they would be dropped without a word."""
    given = [flag for flag, on in (("--base", wanted.base is not None), ("--bake", wanted.bake),
                                   ("--deps outside", wanted.deps == "outside")) if on]
    if given:
        raise ConfigError(f"{given[0]} applies only to the image that --image auto builds",
                          fix=f'add --image auto (image = "auto" under [container]), or drop {given[0]}')


def _preemption(config: Config, target_options: dict) -> Preemption:
    """[preemption]; `[targets.slurm] signal`, the older spelling, gives its signal too, so the
    task wrapper warns and checkpoints on it (a disagreement is the Slurm target's error)."""
    wanted = config.preemption.model_dump()
    if wanted["signal"] is None and isinstance(target_options.get("signal"), str):
        wanted["signal"] = target_options["signal"]
    return Preemption(**wanted)


def _resources(config: Config) -> Resources:
    wanted = {k: v for k, v in config.resources.model_dump().items() if v is not None}
    renamed = {"mem": "mem_mb", "time": "time_s", "disk": "disk_mb"}
    return Resources(**{renamed.get(k, k): v for k, v in wanted.items()})


def _default_name(request: RunRequest, command: list[str]) -> str:
    if request.source:
        return Path(request.source.rstrip("/")).stem or "run"
    script = next((arg for arg in command[1:] if arg.endswith((".py", ".ipynb"))), command[0])
    return Path(script).stem


def prepare(job: Job) -> tuple[Job, str]:
    """Pick (and build, once) the environment the tasks' `python` runs in."""
    from freight.engines.venv import prepare_environment, shim_pythonpath

    if job.container is not None:  # the image brings its own python (engines/wrap.py)
        if job.container.image == "auto":  # build (or reuse) the project's image
            from freight.image.auto import prepare_auto

            job = prepare_auto(job)
        return job, f"the python3 of image {job.container.image}"
    if job.command[0] not in PYTHON_COMMANDS and not job.requirements:
        return job.model_copy(update={"python": sys.executable}), "this interpreter"
    env = prepare_environment(job.requirements, job.env_mode)
    extra_env = dict(job.env)
    if env.mode_used is EnvMode.venv:  # `from freight import report` must work in the venv
        extra_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (shim_pythonpath(), extra_env.get("PYTHONPATH")) if p)
    return job.model_copy(update={"python": env.python, "env": extra_env}), env.reason


class SmokeTestFailed(FreightError):
    """--smoke-first: the first row did not succeed, so the rest of the sweep was not submitted."""

    exit_code = 1  # the work itself failed (see freight.cli), unlike bad input (2)

    def __init__(self, problem: str, *, run_id: str, **where):
        super().__init__(problem, **where)
        self.run_id = run_id


def submit(store: RunStore, job: Job, target_name: str, *, smoke_first: bool = False,
           smoke_limit_s: int = SMOKE_LIMIT_S) -> RunRecord:
    """Create the run (committed first: nothing is lost if submitting fails) and submit it.

    `smoke_first` (a sweep of two rows or more): the first row runs alone, with a time limit
    of at most `smoke_limit_s`, and is waited for; it counts as that row's result. Only if it
    succeeded are the other rows submitted; otherwise SmokeTestFailed says why (exit code 1)
    and the other rows stay pending, for `freight retry` once the problem is fixed.
    """
    target = get_target(target_name)
    target.check(job)
    if job.launcher is not None:
        from freight.launchers import check_launcher

        check_launcher(job, target_name)
    if job.container is not None:
        from freight.engines.wrap import check_container, install_shim

        check_container(job, target_name)
    run = store.create_run(job, target_name)
    if job.container is not None:
        install_shim(str(run.paths.root))
    indices = [task.index for task in job.tasks]
    if smoke_first and len(indices) > 1:
        smoke_test(store, target, run, indices[0], smoke_limit_s)
        indices = indices[1:]
    _record_submission(store, run, indices, target.submit(run, indices))
    return run


def smoke_test(store: RunStore, target, run: RunRecord, index: int, limit_s: int) -> None:
    """Run one row alone with a short time limit and wait for it; SmokeTestFailed unless it
    succeeded. The limit is the job's own while the row runs (job.json, which the task wrapper
    and the target read), then the job's limit is put back for the rest."""
    from freight.runs.watch import wait

    job = read_json(run.paths.job)
    short = smoke_limit(job["resources"].get("time_s"), limit_s)
    write_json_atomic(run.paths.job, {**job, "resources": {**job["resources"], "time_s": short}})
    try:
        smoke_run = replace(run)  # a copy whose cached Job is the short-limited one
        _record_submission(store, smoke_run, [index], target.submit(smoke_run, [index]))
        status = next(s for s in wait(store, target, smoke_run) if s.index == index)
    finally:
        write_json_atomic(run.paths.job, job)
    if status.state is not TaskState.succeeded:
        raise SmokeTestFailed(f"--smoke-first: row {index} {_outcome(status)}; nothing else was submitted",
                              run_id=run.id, path=run.paths.stderr(index),
                              fix=f"read that log, fix the problem, then `freight retry {run.id}` runs every row")


def smoke_limit(time_s: int | None, limit_s: int = SMOKE_LIMIT_S) -> int:
    """The smoke row's time limit: `limit_s`, or the task's own when it is shorter."""
    return min(time_s or limit_s, limit_s)


def _outcome(status) -> str:
    """"(lr=0.1) failed with exit code 3 (timeout)": what a task's status says of how it ended."""
    params = ", ".join(f"{k}={v}" for k, v in status.params.items())
    code = f" with exit code {status.exit_code}" if status.exit_code is not None else ""
    reason = f" ({status.reason})" if status.reason and status.reason != f"exit {status.exit_code}" else ""
    return f"({params}) {status.state.value}{code}{reason}" if params else f"{status.state.value}{code}{reason}"


def retry(store: RunStore, run: RunRecord) -> list[int]:
    """Submit again only what did not succeed and is not still queued or running."""
    from freight.runs.watch import current_status

    target = get_target(run.target)
    current_status(store, target, run)  # the scheduler may know of ends no one has seen yet
    indices = store.retry_indices(run.id)
    if indices:
        _record_submission(store, run, indices, target.submit(run, indices))
    return indices


def _record_submission(store: RunStore, run: RunRecord, indices: list[int], submission) -> None:
    store.mark_submitted(run.id, indices, submission.ids)
    for key, value in submission.meta.items():
        store.set_meta(run.id, key, value)


def cancel(store: RunStore, run: RunRecord) -> None:
    from freight.runs.repair import cancel_handed_back

    get_target(run.target).cancel(run)
    cancel_handed_back(store, run)  # requeued tasks waiting for freight to resubmit them
