"""Rendering for the HTCondor target: one submit description per submission, a queue file
(one task index per line: process N runs the task on line N) and the start script every
process runs. Pure functions of the run and its options: no pool is needed.

Universes. With an image: `container` (container_image = docker://…, oras://… or a .sif;
HTCondor starts the job inside it) or `docker` (docker_image). Without one: `vanilla`.
When HTCondor starts the job inside the image, the task wrapper runs there too, so it is
shipped with the job (sched/shipped.py) and the job needs only python3.

Files. With `transfer_input` (the default, CHTC's way) nothing is shared: the project's
top-level files and folders (filtered like an image's build context: no .git, .env, keys,
environments), the run's job.json and tasks.jsonl and the wrapper go with the job into its
scratch folder, and each task's folder (state, logs, result, anything the program writes to
$FREIGHT_TASK_DIR) comes back into the run folder. Without it, the run folder and project are
on a shared filesystem and used where they are.

Quoting. A submit description is not a shell script: a value runs to the end of its line and
`$(NAME)` in it is a macro. Values freight did not write itself are refused if they hold a
line break, and a `$` in them becomes `$(DOLLAR)`; ClassAd strings are escaped as ClassAds.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from freight.errors import ConfigError
from freight.sched.common import load_target_options
from freight.sched.render import render_template
from freight.spec.job import Job
from freight.spec.patterns import check_env_names

SUBMIT_FILE = "htcondor.sub"
QUEUE_FILE = "htcondor-tasks.txt"
START_SCRIPT = "htcondor-task.sh"
REMOTE_RUN = ".freight-run"  # in the job's scratch folder: job.json, tasks.jsonl, tasks/N/
REMOTE_LIB = ".freight-lib"  # in the job's scratch folder: the shipped task wrapper
SCHED_LOGS = "sched-logs"  # the user log and each process's stdout/stderr
CHECKPOINT_EXIT_CODE = 85  # HTCondor's manual uses 85 in its self-checkpointing example
KILL_GRACE_S = 300  # allowed_execute_duration: past the task's own limit, for the wrapper to finish
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class HTCondorOptions(BaseModel):
    """`[targets.htcondor]` in freight.toml (or a site profile such as chtc)."""

    model_config = ConfigDict(extra="forbid")

    universe: Literal["container", "docker", "vanilla"] | None = None  # None: container with an image
    transfer_input: bool = True  # False: a shared filesystem (should_transfer_files = NO)
    inputs: list[str] = Field(default_factory=list)  # more transfer_input_files (paths or URLs)
    want_gpu_lab: bool = False  # CHTC: +WantGPULab = true
    gpu_job_length: Literal["short", "medium", "long"] | None = None  # CHTC: +GPUJobLength
    gpus_minimum_capability: float | None = None  # e.g. 7.5
    gpus_minimum_memory: int | None = Field(None, ge=1)  # MB per GPU
    requirements: str | None = None  # a ClassAd expression, as written
    attributes: dict[str, str | int | float | bool] = Field(default_factory=dict)  # +Name = value
    env: dict[str, str] = Field(default_factory=dict)  # exported by the start script
    python: str | None = None  # python on the execute side (default: python3; shared fs: this one)
    build_disk: str | None = None  # request_disk of an image build job (chtc profile; freight image build)
    checkpoint_exit_code: int = Field(CHECKPOINT_EXIT_CODE, ge=1, le=255)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        return check_env_names(env)

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, attributes: dict) -> dict:
        for name in attributes:
            if not _ATTRIBUTE.fullmatch(name):
                raise ValueError(f"{name!r} is not a ClassAd attribute name")
        return attributes


def htcondor_options(job: Job) -> HTCondorOptions:
    return load_options(job.target_options)


def load_options(options: dict) -> HTCondorOptions:
    return load_target_options(HTCondorOptions, options, "htcondor")


# -- quoting ---------------------------------------------------------------------------------


def submit_value(value: object) -> str:
    """A value freight did not write, made safe for one submit-description line."""
    text = str(value)
    if any(c in text for c in "\n\r\0"):
        raise ConfigError(f"an HTCondor submit value cannot contain a line break: {text!r}",
                          fix="put the value on one line")
    return text.replace("$", "$(DOLLAR)")


def classad_literal(value: str | int | float | bool) -> str:
    """A Python value as a ClassAd literal: true, 3, 2.5, "text" (escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return submit_value('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')


def file_list_item(path: str) -> str:
    """One entry of transfer_input_files: commas and blanks separate entries, so refuse them."""
    if re.search(r"[,\s]", path):
        raise ConfigError(f"HTCondor cannot transfer a path with a comma or a blank: {path!r}",
                          fix="rename it, or use a shared filesystem ([targets.htcondor] transfer_input = false)")
    return submit_value(path)


# -- what runs where -------------------------------------------------------------------------


def universe_of(job: Job, options: HTCondorOptions) -> str:
    if options.universe is not None:
        return options.universe
    return "container" if job.container is not None else "vanilla"


def in_image(job: Job, options: HTCondorOptions) -> bool:
    """Whether HTCondor itself starts the job inside the image (the wrapper then runs there)."""
    return job.container is not None and universe_of(job, options) in ("container", "docker")


def container_image(image: str) -> str:
    """container_image: a .sif or an image folder as it is, a registry ref with its scheme
    (docker://, oras://, …); a bare ref is a Docker one."""
    if "://" in image or image.endswith(".sif") or image.startswith(("/", "./", "../")):
        return image
    return "docker://" + image


def docker_image(image: str) -> str:
    return image.removeprefix("docker://")


def check_options(job: Job, options: HTCondorOptions) -> None:
    universe = universe_of(job, options)
    if universe in ("container", "docker") and job.container is None:
        raise ConfigError(f"universe = {universe} needs an image", fix="add --image REF, or use universe = vanilla")
    if universe == "docker" and job.container is not None and job.container.image.endswith(".sif"):
        raise ConfigError("the docker universe cannot run a .sif image", fix='use universe = "container"')
    if job.container is not None and universe == "vanilla" and options.transfer_input:
        raise ConfigError("an image in the vanilla universe needs a shared filesystem: freight's engine runs it "
                          "on the execute node", fix='use universe = "container", or set transfer_input = false')


def remote_python(options: HTCondorOptions) -> str:
    return options.python or ("python3" if options.transfer_input else sys.executable)


def remote_job(job: Job, options: HTCondorOptions) -> dict:
    """job.json as the wrapper reads it in the scratch folder: the code is its working
    directory, paths into the project are relative to it, and no engine is run (HTCondor
    started the job in the image, if any)."""
    data = json.loads(job.model_dump_json())
    command, _ = _relocated(job)
    data.update(workdir=".", container=None, python=remote_python(options), command=command)
    return data


def _relocated(job: Job) -> tuple[list[str], list[Path]]:
    """The command with project paths made relative, and files outside the code it needs."""
    from freight.sched.shipped import relocate_command

    names = {Path(entry).name for entry in code_entries(job.workdir)}
    return relocate_command(job.command, job.workdir, ".", ".", names)


def code_entries(workdir: str) -> list[str]:
    """The project's top-level files and folders that may travel with the job: what an image's
    build context would keep (image/context.py), by its first path component."""
    from freight.image.context import collect

    kept = {rel.split("/", 1)[0] for rel in collect(workdir).files}
    return [str(Path(workdir) / name) for name in sorted(kept)]


# -- the submit description ------------------------------------------------------------------


def submit_commands(run, job: Job, options: HTCondorOptions, folder: Path) -> list[tuple[str, str]]:
    """(command, value) pairs of one submission whose files live in `folder`."""
    res, run_dir = job.resources, run.paths.root
    logs = run_dir / SCHED_LOGS
    commands = [*_where(job, options), ("executable", submit_value(folder / START_SCRIPT)),
                ("arguments", '"$(task_index)"'), ("batch_name", submit_value(f"{job.name}-{run.id}")),
                ("+FreightRun", classad_literal(run.id)), ("+FreightTask", "$(task_index)")]
    commands += [(key, value) for key, value in (
        ("request_cpus", res.cpus * max(res.tasks_per_node, 1)),
        ("request_memory", f"{res.mem_mb}M" if res.mem_mb else None),
        ("request_disk", f"{res.disk_mb}M" if res.disk_mb else None),
        ("request_gpus", res.gpus or None),
        ("gpus_minimum_capability", options.gpus_minimum_capability if res.gpus else None),
        ("gpus_minimum_memory", options.gpus_minimum_memory if res.gpus else None),
        ("allowed_execute_duration", res.time_s + KILL_GRACE_S if res.time_s else None),
        ("requirements", submit_value(options.requirements) if options.requirements else None),
    ) if value is not None]
    commands += _attributes(job, options)
    commands += _transfer(run, job, options, folder)
    if job.max_parallel:  # late materialization: at most this many of the cluster's jobs exist at once
        commands.append(("max_materialize", str(job.max_parallel)))
    commands += [("log", submit_value(logs) + "/htcondor-$(ClusterId).log"),
                 ("output", submit_value(logs) + "/$(ClusterId).$(ProcId).out"),
                 ("error", submit_value(logs) + "/$(ClusterId).$(ProcId).err")]
    return [(key, str(value)) for key, value in commands]


def _where(job: Job, options: HTCondorOptions) -> list[tuple[str, str]]:
    universe = universe_of(job, options)
    pairs = [("universe", universe)]
    if universe == "container":
        pairs.append(("container_image", submit_value(container_image(job.container.image))))
    elif universe == "docker":
        pairs.append(("docker_image", submit_value(docker_image(job.container.image))))
    return pairs


def _attributes(job: Job, options: HTCondorOptions) -> list[tuple[str, str]]:
    wanted: dict[str, str | int | float | bool] = {}
    if options.want_gpu_lab and job.resources.gpus:
        wanted["WantGPULab"] = True
    if options.gpu_job_length and job.resources.gpus:
        wanted["GPUJobLength"] = options.gpu_job_length
    wanted.update(options.attributes)
    return [(f"+{name}", classad_literal(value)) for name, value in wanted.items()]


def _transfer(run, job: Job, options: HTCondorOptions, folder: Path) -> list[tuple[str, str]]:
    if not options.transfer_input:
        return [("should_transfer_files", "NO")]
    inputs = [*code_entries(job.workdir), *map(str, _relocated(job)[1]), str(folder / REMOTE_RUN),
              str(folder / REMOTE_LIB), *options.inputs]
    task_dir = f"{REMOTE_RUN}/tasks/$(task_index)"
    pairs = [("should_transfer_files", "YES"), ("when_to_transfer_output", "ON_EXIT"),
             ("transfer_input_files", ", ".join(map(file_list_item, inputs))),
             # the task's folder comes back by its own name into initialdir: <run>/tasks/<index>
             ("initialdir", submit_value(run.paths.root / "tasks")),
             ("transfer_output_files", task_dir)]
    if job.preemption.requeue:  # the wrapper's requeue becomes HTCondor's checkpoint and restart
        pairs += [("checkpoint_exit_code", str(options.checkpoint_exit_code)),
                  ("transfer_checkpoint_files", task_dir)]
    return pairs


def render_submit(run, job: Job, options: HTCondorOptions, folder: Path, count: int) -> str:
    return render_template("htcondor.sub.j2", run_id=run.id, count=count,
                           commands=submit_commands(run, job, options, folder),
                           queue_file=submit_value(folder / QUEUE_FILE))


def render_start_script(run, job: Job, options: HTCondorOptions) -> str:
    checkpoint = options.checkpoint_exit_code if options.transfer_input and job.preemption.requeue else None
    return render_template("htcondor-task.sh.j2", run_id=run.id, transfer=options.transfer_input,
                           run_dir=run.paths.root, workdir=job.workdir, env=options.env,
                           python=remote_python(options), checkpoint_exit_code=checkpoint)


def queue_file_text(indices: list[int]) -> str:
    return "".join(f"{index}\n" for index in indices)


def render_files(run, job: Job, options: HTCondorOptions, folder: Path, indices: list[int]) -> dict[str, str]:
    """{file name: text} of one submission: the submit description, its queue file, the start script."""
    return {SUBMIT_FILE: render_submit(run, job, options, folder, len(indices)),
            QUEUE_FILE: queue_file_text(indices), START_SCRIPT: render_start_script(run, job, options)}
