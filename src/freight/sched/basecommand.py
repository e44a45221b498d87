"""The NVIDIA Base Command Platform (DGX Cloud) target: every task is one `ngc base-command job
run` (or the older `ngc batch run`, [targets.basecommand] cli = "batch") in the job's image,
on the instance type the site's table gives for its GPU count; a sweep is N jobs with the
run's label. Status, logs and cancel go through the same CLI (`job info --format_type json`,
`job log`, `job kill`). References: the BCP user guide
(https://docs.nvidia.com/base-command-platform/user-guide/latest/index.html) and the seed
"Containers on BCP" (seeds/004), whose job runs code mounted from a workspace.

Where things are inside the job. The project is in a workspace mounted read-write at
`workspace_mount` (the seed: /mnt/workspace), under `code_dir` (default: the mount plus the
project folder's name); freight uploads each submission's folder (scripts/basecommand-N: the
task wrapper, job.json with the in-job paths, tasks.jsonl) into the same place with
`ngc workspace upload`. The task writes its state, logs and result into the job's result
directory (/results/freight), which `ngc result download JOB_ID` brings back; freight's status
comes from `ngc ... job info`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from freight.errors import ConfigError
from freight.fsutil import read_json, write_json_atomic
from freight.sched.base import Capabilities, Submission, refuse_unsupported
from freight.sched.batch import consecutive_ranges, one_line, run_tool
from freight.sched.common import load_target_options, submission_folder
from freight.sched.render import render_template
from freight.sched.shipped import write_wrapper
from freight.spec.state import TaskState

SCRIPT = "basecommand.sh"
STAGE_LIB = "lib"  # in the submission folder: the task wrapper package
IN_JOB_RUN = "freight"  # under the result directory: the run folder inside the job
# Stands for the task index in the script's one `job run` line: it becomes "$index" there. NUL
# cannot occur in a command-line argument, so no user value is ever mistaken for it.
INDEX_SLOT = "\0"
INSTALL_FIX = "install the NGC CLI (https://org.ngc.nvidia.com/setup/installers/cli) and run `ngc config set`"

# BCP job states (the user guide's "Job States"; those marked guess are not in the seed) ->
# task state. PREEMPTED: the platform may resume a RESUMABLE job, so it is still queued.
STATES: dict[str, TaskState] = {
    **dict.fromkeys(("CREATED", "QUEUED", "STARTING", "PENDING_STORAGE_CREATION", "PREEMPTED",
                     "PREEMPTED_BY_ADMIN"), TaskState.queued),
    **dict.fromkeys(("RUNNING", "PENDING_TERMINATION"), TaskState.running),
    "FINISHED_SUCCESS": TaskState.succeeded,
    **dict.fromkeys(("FAILED", "FAILED_RUN_LIMIT_EXCEEDED", "IM_INTERNAL_ERROR"), TaskState.failed),
    **dict.fromkeys(("KILLED_BY_USER", "KILLED_BY_ADMIN", "CANCELED"), TaskState.cancelled),
    **dict.fromkeys(("KILLED_BY_SYSTEM", "TASK_LOST", "UNKNOWN"), TaskState.lost),  # guess
}
_ID_LINE = re.compile(r"^\s*Id:\s*(\d+)\s*$", re.MULTILINE)


class BaseCommandOptions(BaseModel):
    """`[targets.basecommand]` in freight.toml (or the nvidia-bcp profile)."""

    model_config = ConfigDict(extra="forbid")

    cli: Literal["base-command", "batch"] = "base-command"  # batch: `ngc batch run` (older CLIs)
    org: str | None = None  # `ngc config current` says; None: the CLI's configured one
    team: str | None = None
    ace: str | None = None
    instance: str | None = None  # wins over the table
    instances: dict[str, str] = Field(default_factory=dict)  # GPUs per task -> instance type
    result: str = "/results"
    workspace: str | None = None  # the workspace that holds the code
    workspace_mount: str = "/mnt/workspace"
    code_dir: str | None = None  # the project inside the job (default: mount/<project folder name>)
    python: str = "python3"  # the image's
    labels: list[str] = Field(default_factory=list)
    preempt: Literal["RUNONCE", "RESUMABLE", "RESTARTABLE"] | None = None  # default: RESUMABLE with requeue
    constraints_from_image: bool = True  # image builds (freight image): pip -c the base image's own pip list
    ngc_args: list[str] = Field(default_factory=list)  # more `job run` arguments, one per item


def load_options(options: dict) -> BaseCommandOptions:
    return load_target_options(BaseCommandOptions, options, "basecommand")


def instance_for(gpus: int, options: BaseCommandOptions) -> str:
    if options.instance:
        return options.instance
    if str(gpus) in options.instances:
        return options.instances[str(gpus)]
    known = ", ".join(f"{k} GPU(s): {v}" for k, v in sorted(options.instances.items(), key=lambda kv: int(kv[0])))
    raise ConfigError(f"no Base Command instance type for {gpus} GPU(s)" + (f" (known: {known})" if known else ""),
                      fix="set [targets.basecommand] instance, or add the count to [targets.basecommand.instances]; "
                          "`ngc base-command ace info ACE` lists your ace's instances")


def label_of(run_id: str) -> str:
    """The run's label: letters, digits and underscores (guess at BCP's label alphabet)."""
    return "freight_" + re.sub(r"[^A-Za-z0-9_]", "_", run_id)


def parse_job_id(text: str) -> str:
    """The job id from `job run` output: JSON ("id"), or the table's "Id: 1234567" line."""
    try:
        data = json.loads(text)
    except ValueError:
        found = _ID_LINE.search(text)
        if found:
            return found.group(1)
    else:
        job = data[0] if isinstance(data, list) and data else data
        job_id = job.get("id") or job.get("jobId") if isinstance(job, dict) else None
        if job_id is not None and str(job_id).isdigit():
            return str(job_id)
    raise ConfigError(f"ngc printed no job id: {one_line(text)[:200] or 'nothing'}",
                      fix="run the command from the run's basecommand.sh by hand to see why")


def parse_job_state(text: str) -> tuple[TaskState, str] | None:
    """`job info ID --format_type json` -> (task state, BCP's status word)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    status = ((data.get("jobStatus") or {}).get("status") or "") if isinstance(data, dict) else ""
    return (STATES.get(status, TaskState.queued), status) if status else None


class Plan:
    """One submission: where its files are here and inside the job, and the ngc commands."""

    def __init__(self, run, folder: Path, indices: list[int]):
        self.run, self.job, self.folder, self.indices = run, run.job, folder, indices
        self.options = load_options(self.job.target_options)
        self.code_dir = self.options.code_dir or str(
            PurePosixPath(self.options.workspace_mount) / Path(self.job.workdir).name)
        self.stage_rel = _relative(folder, self.job.workdir)
        self.stage_in_job = str(PurePosixPath(self.code_dir) / self.stage_rel)

    def ngc(self, *words: str) -> list[str]:
        return ["ngc", *(("base-command", "job") if self.options.cli == "base-command" else ("batch",)), *words]

    def scope(self) -> list[str]:
        pairs = (("--org", self.options.org), ("--team", self.options.team), ("--ace", self.options.ace))
        return [word for flag, value in pairs if value for word in (flag, value)]

    def run_argv(self, index: int | str) -> list[str]:
        job, options, res = self.job, self.options, self.job.resources
        argv = self.ngc("run", "--name", f"{job.name}-{index}", "--image", job.container.image,
                        "--instance", instance_for(res.gpus, options), "--result", options.result,
                        "--commandline", self.commandline(index))
        if options.workspace:
            argv += ["--workspace", f"{options.workspace}:{options.workspace_mount}:RW"]
        if res.time_s:
            argv += ["--total-runtime", f"{res.time_s}s"]
        preempt = options.preempt or ("RESUMABLE" if job.preemption.requeue else None)
        argv += ["--preempt", preempt] if preempt else []
        for label in (label_of(self.run.id), *options.labels):
            argv += ["--label", label]
        return argv + self.scope() + list(options.ngc_args) + ["--format_type", "json"]

    def commandline(self, index: int | str) -> str:
        """What the job's shell runs: the run folder made in the result directory, then the task."""
        q, stage = shlex.quote, self.stage_in_job
        inside = f"{self.options.result.rstrip('/')}/{IN_JOB_RUN}"
        return "; ".join([
            "set -eu", f"mkdir -p {q(inside)}", f"cp {q(stage + '/job.json')} {q(stage + '/tasks.jsonl')} {q(inside)}/",
            f'export PYTHONPATH={q(stage + "/" + STAGE_LIB)}"${{PYTHONPATH:+:$PYTHONPATH}}"',
            "export FREIGHT_SCHEDULER=basecommand",
            f"exec {q(self.options.python)} -m freight.task {q(inside)} --index {index}",
        ])

    def upload_argv(self) -> list[str]:
        if not self.options.workspace:
            return []
        workspace_path = str(PurePosixPath(Path(self.job.workdir).name) / self.stage_rel) \
            if self.options.code_dir is None else str(PurePosixPath(self.code_dir).relative_to(
                self.options.workspace_mount) / self.stage_rel)
        return ["ngc", "workspace", "upload", "--source", str(self.folder), "--destination", workspace_path,
                *self.scope_no_ace(), self.options.workspace]

    def scope_no_ace(self) -> list[str]:
        return [word for flag, value in (("--org", self.options.org), ("--team", self.options.team)) if value
                for word in (flag, value)]

    def script(self) -> str:
        """One `job run` line for every task (the index a shell variable), then loops over the
        rows as runs of consecutive indices: the script's size does not grow with the sweep."""
        return render_template(SCRIPT + ".j2", run_id=self.run.id, count=len(self.indices),
                               label=label_of(self.run.id), upload=self.upload_argv(),
                               command=" ".join(_quote_with_index(word) for word in self.run_argv(INDEX_SLOT)),
                               ranges=consecutive_ranges(self.indices))

    def remote_job(self) -> dict:
        """job.json inside the job: the project's paths under code_dir; files of .freight (a
        converted notebook) travel in the submission folder."""
        data = json.loads(self.job.model_dump_json())
        data.update(workdir=self.code_dir, container=None, python=self.options.python, command=self.relocated()[0])
        return data

    def relocated(self) -> tuple[list[str], list[Path]]:
        from freight.sched.shipped import relocate_command

        names = {p.name for p in Path(self.job.workdir).iterdir() if p.name != ".freight"}
        return relocate_command(self.job.command, self.job.workdir, self.code_dir, self.stage_in_job, names)


def _quote_with_index(word: str) -> str:
    """A shell word for `word`, its INDEX_SLOTs read from the shell variable $index: the text
    around them quoted, the variable in double quotes (bench-"$index", '... --index '"$index")."""
    return '"$index"'.join(shlex.quote(part) if part else "" for part in word.split(INDEX_SLOT))


def _relative(folder: Path, workdir: str) -> str:
    try:
        return str(PurePosixPath(*folder.relative_to(workdir).parts))
    except ValueError:
        raise ConfigError("the run folder must be inside the project to travel in its workspace",
                          fix="unset FREIGHT_HOME (runs then go to the project's .freight folder)",
                          path=folder) from None


class BaseCommandTarget:
    name = "basecommand"
    # One job per task, no array throttle, instance types instead of GPU models, no multi-node
    # (BCP's --replicas/--array-type is not modelled yet).
    capabilities = Capabilities(arrays=True, throttle=False, gpus=True, gpu_types=False, multi_node=False,
                                requeue=True, time_limit=True)

    def check(self, job) -> None:
        refuse_unsupported(self, job)
        options = load_options(job.target_options)
        if job.container is None:
            raise ConfigError("target 'basecommand' runs every task in an image",
                              fix="add --image nvcr.io/ORG/TEAM/NAME:TAG")
        if job.pack > 1:
            raise ConfigError("target 'basecommand' cannot run --pack", fix="drop --pack")
        if not options.workspace:
            raise ConfigError("target 'basecommand' needs a workspace: the code and the task wrapper reach the "
                              "job through it", fix='set [targets.basecommand] workspace = "NAME" (`ngc workspace list`)')
        instance_for(job.resources.gpus, options)
        if shutil.which("ngc") is None:  # before the run is recorded; `freight script` renders anyway
            from freight.errors import MissingToolError

            raise MissingToolError("ngc is not installed here (needed for --target basecommand)", fix=INSTALL_FIX)

    def render(self, run, indices: list[int]) -> dict[str, str]:
        return {SCRIPT: Plan(run, self._folder(run, create=False), indices).script()}

    def prepare(self, run, indices: list[int]) -> Plan:
        """Write one submission's folder: the script, and what the job reads from the workspace."""
        plan = Plan(run, self._folder(run), indices)
        (plan.folder / SCRIPT).write_text(plan.script(), encoding="utf-8")
        write_json_atomic(plan.folder / "job.json", plan.remote_job())
        (plan.folder / "tasks.jsonl").write_bytes(run.paths.tasks.read_bytes())
        write_wrapper(plan.folder / STAGE_LIB)
        for path in plan.relocated()[1]:
            shutil.copyfile(path, plan.folder / path.name)
        return plan

    def submit(self, run, indices: list[int]) -> Submission:
        plan = self.prepare(run, indices)
        if plan.upload_argv():
            run_tool(plan.upload_argv(), fix=INSTALL_FIX, timeout=600)
        ids: dict[int, str] = {}
        for index in indices:  # each id is kept at once: a failure halfway still knows what runs
            ids[index] = parse_job_id(run_tool(plan.run_argv(index), fix=INSTALL_FIX).stdout)
            self._keep_ids(run, {index: ids[index]})
        return Submission(ids=ids)

    def poll(self, run) -> dict[int, TaskState]:
        states: dict[int, TaskState] = {}
        for index, job_id in self._job_ids(run).items():
            done = run_tool(self._ngc(run, "info", job_id, "--format_type", "json"), check=False, fix=INSTALL_FIX)
            seen = parse_job_state(done.stdout) if done.returncode == 0 else None
            if seen is not None:
                states[index] = seen[0]
        return states

    def is_alive(self, run, index: int, state: dict) -> bool | None:
        return None  # the task's state file lives in the job's result directory, not here

    def logs_argv(self, run, index: int) -> list[str]:
        """`ngc base-command job log ID`: the task's output as the platform kept it."""
        return self._ngc(run, "log", self._job_ids(run)[index])

    def cancel(self, run) -> None:
        for job_id in self._job_ids(run).values():
            run_tool(self._ngc(run, "kill", job_id), check=False, fix=INSTALL_FIX)

    def _ngc(self, run, verb: str, *words: str) -> list[str]:
        cli = load_options(run.job.target_options).cli
        return ["ngc", *(("base-command", "job") if cli == "base-command" else ("batch",)), verb, *words]

    def _job_ids(self, run) -> dict[int, str]:
        """{task index: its newest BCP job id}."""
        return {int(index): job_id for index, job_id in (read_json(self._ids_path(run), {}) or {}).items()}

    def _keep_ids(self, run, ids: dict[int, str]) -> None:
        write_json_atomic(self._ids_path(run), {**self._job_ids(run), **ids})

    def _ids_path(self, run) -> Path:
        return run.paths.scripts / "basecommand-jobs.json"

    def _folder(self, run, create: bool = True) -> Path:
        return submission_folder(run, "basecommand", create)
