"""The PBS target, PBS Professional / OpenPBS and Torque: `freight run --target pbs`.

One array job per chunk of rows (templates/pbs.qsub.j2), handed to `qsub`; each element runs
one row through freight's task wrapper. The two lines differ where it matters:

| | PBS Professional / OpenPBS | Torque |
|---|---|---|
| resources | `-l select=1:ncpus=C:mem=Mmb:ngpus=G` | `-l nodes=1:ppn=C:gpus=G`, `-l mem=Mmb` |
| arrays | `-J 0-N` (at least 2 subjobs), `PBS_ARRAY_INDEX` | `-t 0-N%K`, `PBS_ARRAYID` |
| throttle | `-W max_run_subjobs=K` only from 2020.1: opt in with `max_run_subjobs = true` | `%K` |
| finished jobs | `qstat -x` (history) | kept as state C for `keep_completed` |

`flavor = "auto"` asks `qstat --version` (PBS Pro prints "pbs_version = …", Torque "Version:
…"). qsub prints the job id, "1234.server", or "1234[].server" for an array; `qstat -f -t`
lists each subjob as "Job Id: 1234[5].server" with its `job_state` and exit status.
Nothing of PBS can be installed here: scripts are shellchecked and compared with golden files,
and the parsers are tested on the documented outputs (tests/sched/test_pbs.py).
"""

from __future__ import annotations

import re
import shutil
import sys
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from freight.errors import ConfigError, MissingToolError
from freight.sched import arrayjobs as aj
from freight.sched.base import Capabilities, Submission, refuse_unsupported
from freight.sched.batch import one_line, run_tool
from freight.sched.render import render_template
from freight.spec.state import TaskState
from freight.task import DEFAULT_KILL_GRACE_S

WALLTIME_MARGIN_S = int(DEFAULT_KILL_GRACE_S) + 20  # the wrapper's own limit and grace go first
FIX = "check [targets.pbs] in freight.toml (flavor, queue, account, qsub_args) against `qstat -Q`"
_JOB_ID = re.compile(r"^(\d+)(\[(\d*)\])?(\.\S+)?$")
Flavor = Literal["pro", "torque"]


class PbsOptions(BaseModel):
    """`[targets.pbs]` in freight.toml (and --queue, --account, --target-opt)."""

    model_config = ConfigDict(extra="forbid")

    flavor: Literal["auto", "pro", "torque"] = "auto"
    queue: str | None = None  # -q
    account: str | None = None  # -A
    project: str | None = None  # -P (PBS Pro)
    qsub_args: list[str] = Field(default_factory=list)  # extra `#PBS` lines, e.g. "-m ae"
    max_array_size: int = Field(10000, ge=2)  # PBS Pro's max_array_size default
    max_run_subjobs: bool = False  # PBS Pro 2020.1+: -W max_run_subjobs=K for --max-parallel

    @field_validator("queue", "account", "project")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        return aj.one_word(value)

    @field_validator("qsub_args")
    @classmethod
    def _flag_lines(cls, lines: list[str]) -> list[str]:
        return aj.flag_lines(lines, "qsub", "-m ae")


def load_options(options: dict) -> PbsOptions:
    return aj.load_options(PbsOptions, "pbs", options, FIX)


@lru_cache(maxsize=1)
def detect_flavor() -> Flavor | None:
    """PBS Pro or Torque, from `qstat --version`; None when qstat is missing or neither."""
    text = aj.ask(["qstat", "--version"], timeout=20)
    return flavor_from_version(text or "")


def flavor_from_version(text: str) -> Flavor | None:
    if "pbs_version" in text:
        return "pro"
    if re.search(r"^\s*Version:\s*\d", text, flags=re.M):
        return "torque"
    return None


def resolve_flavor(opts: PbsOptions) -> Flavor:
    """The flavor asked for, else the one this machine has; rendering elsewhere assumes Pro."""
    if opts.flavor != "auto":
        return opts.flavor
    return detect_flavor() or "pro"


def capabilities(flavor: Flavor, opts: PbsOptions) -> Capabilities:
    return Capabilities(throttle=flavor == "torque" or opts.max_run_subjobs, gpu_types=False,
                        multi_node=False, requeue=False)


# -- rendering -------------------------------------------------------------------------------------


def walltime(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def resource_lines(res, flavor: Flavor) -> list[str]:
    """The `-l` lines: one select chunk on PBS Pro, nodes/ppn plus mem on Torque."""
    lines = []
    if flavor == "pro":
        chunk = f"select=1:ncpus={res.cpus}"
        chunk += f":mem={res.mem_mb}mb" if res.mem_mb else ""
        chunk += f":ngpus={res.gpus}" if res.gpus else ""
        lines.append(chunk)
    else:
        lines.append(f"nodes=1:ppn={res.cpus}" + (f":gpus={res.gpus}" if res.gpus else ""))
        if res.mem_mb:
            lines.append(f"mem={res.mem_mb}mb")
    if res.time_s:
        lines.append(f"walltime={walltime(res.time_s + WALLTIME_MARGIN_S)}")
    return lines


def array_line(count: int, flavor: Flavor, throttle: int | None) -> str | None:
    """-J 0-N (Pro, which wants at least two subjobs) or -t 0-N%K (Torque); None for one row."""
    if count < 2:
        return None
    if flavor == "pro":
        return f"-J 0-{count - 1}"
    return f"-t 0-{count - 1}" + (f"%{throttle}" if throttle else "")


def job_name(run_id: str, flavor: Flavor) -> str:
    """The run id; PBS job names start with a letter, and Torque's qsub(1B) takes at most 15
    characters. Status follows job ids, never names."""
    name = run_id if run_id[:1].isalpha() else f"f{run_id}"
    return name[:15] if flavor == "torque" else name


# -- what PBS says ---------------------------------------------------------------------------------


def parse_job_id(text: str) -> str:
    """qsub's answer ("1234.server", "1234[].server") -> that id; ConfigError on anything else."""
    answer = text.strip().splitlines()[-1].strip() if text.strip() else ""
    if not _JOB_ID.match(answer):
        raise ConfigError(f"qsub answered {one_line(text)!r}, not a job id", fix=FIX)
    return answer


def sequence(job_id: str) -> str:
    """"1234[].server" -> "1234"."""
    return re.split(r"[.\[]", job_id, maxsplit=1)[0]


def parse_qstat_full(text: str) -> dict[tuple[str, int | None], dict[str, str]]:
    """`qstat -f -t [-x]` -> {(sequence number, array index or None): {attribute: value}}, from
    its documented "Job Id: N[i].server" blocks of "name = value" lines (continuation lines
    start with a tab). Attribute names are lowercased: Pro's Exit_status is Torque's exit_status."""
    jobs: dict[tuple[str, int | None], dict[str, str]] = {}
    current: dict[str, str] | None = None
    last = ""
    for line in text.splitlines():
        if line.startswith("Job Id:"):
            match = _JOB_ID.match(line.split(":", 1)[1].strip())
            current = None
            if match and match.group(2) != "[]":  # the array's own line: its subjobs follow
                key = (match.group(1), int(match.group(3)) if match.group(3) else None)
                current = jobs.setdefault(key, {})
        elif current is not None and line.startswith("\t") and last:
            current[last] += line.strip()
        elif current is not None and " = " in line:
            name, _, value = line.strip().partition(" = ")
            last = name.strip().lower()
            current[last] = value.strip()
    return jobs


def task_state(attributes: dict[str, str]) -> TaskState | None:
    """PBS job_state -> freight's: Q H W T S U (and B for an array) wait, R E run, F X C ended
    (F/X are PBS Pro's finished job and subjob with -x, C Torque's completed job)."""
    letter = attributes.get("job_state", "")
    if letter in ("Q", "H", "W", "T", "S", "U", "B", "M"):
        return TaskState.queued
    if letter in ("R", "E"):
        return TaskState.running
    if letter in ("F", "X", "C"):
        return TaskState.failed  # ended; if its wrapper wrote nothing, it never ran the task
    return None


# -- the target ------------------------------------------------------------------------------------


class PbsTarget(aj.ArrayTarget):
    name = "pbs"
    label = "PBS"
    capabilities = Capabilities(throttle=True, gpu_types=False, multi_node=False, requeue=False)

    def check(self, job) -> None:
        opts = load_options(job.target_options)
        flavor = resolve_flavor(opts)
        self.capabilities = capabilities(flavor, opts)
        if job.max_parallel and not self.capabilities.throttle:
            raise ConfigError("PBS Pro cannot limit how many subjobs run at once (no %K in -J) before 2020.1",
                              fix="drop --max-parallel, or set max_run_subjobs = true under [targets.pbs] "
                                  "if your PBS Pro is 2020.1 or newer")
        refuse_unsupported(self, job)
        aj.refuse_unsupported_extras(self, job)
        if shutil.which("qsub") is None:
            raise MissingToolError("qsub is not installed here (needed for --target pbs)",
                                   fix="run freight on the cluster's login node")
        if opts.flavor == "auto" and detect_flavor() is None:
            raise ConfigError("the qsub here is not PBS Pro or Torque (`qstat --version` says neither)",
                              fix='set flavor = "pro" or "torque" under [targets.pbs], or use --target sge')

    def submit(self, run, indices: list[int]) -> Submission:
        log = aj.SubmissionLog(run.paths.root, self.name)
        argv = self._path_argv(run)[1]
        return aj.submit_planned(run, log, self._plan(run, indices),
                                 lambda script: self._qsub(argv, script), lambda ids: self._remove(run, ids))

    # -- helpers ------------------------------------------------------------------------------

    def _plan(self, run, indices: list[int]) -> list[aj.Planned]:
        job = run.job
        opts = load_options(job.target_options)
        flavor = resolve_flavor(opts)
        path_lines, argv = self._path_argv(run)
        base = {"run_id": run.id, "job_name": job_name(run.id, flavor), "flavor": flavor, "python": sys.executable,
                "run_dir": str(run.paths.root), "path_lines": path_lines, "qsub_argv": argv,
                "queue": opts.queue, "account": opts.account, "project": opts.project,
                "resource_lines": resource_lines(job.resources, flavor), "extra": opts.qsub_args,
                "rerun": False, "index_var": "PBS_ARRAY_INDEX" if flavor == "pro" else "PBS_ARRAYID",
                "throttle_attr": job.max_parallel if flavor == "pro" and opts.max_run_subjobs else None}
        first = aj.next_number(run.paths.scripts, "pbs")
        planned = []
        for chunk in aj.plan_chunks(indices, opts.max_array_size, first):
            name = f"pbs-{chunk.number}"
            rows = run.paths.scripts / f"{name}.rows" if chunk.mapped else None
            script = render_template("pbs.qsub.j2", **base, count=chunk.count, offset=chunk.offset,
                                     array=array_line(chunk.count, flavor, job.max_parallel),
                                     rows_file=str(rows) if rows and chunk.count > 1 else "")
            files = {f"{name}.sh": script}
            if rows and chunk.count > 1:
                files[rows.name] = aj.rows_file_text(chunk)
            planned.append(aj.Planned(chunk, files))
        return planned

    def _path_argv(self, run) -> tuple[list[str], list[str]]:
        """-o/-e: PBS's own output of each job script, in the run folder (a folder: PBS names the
        files after the job and subjob id)."""
        logs = f"{run.paths.root / aj.LOG_DIR}/"
        return aj.path_options([("-o", logs), ("-e", logs)])

    def _qsub(self, argv: list[str], script) -> str:
        done = run_tool(["qsub", *argv, str(script)], check=False)
        if done.returncode != 0:
            said = one_line(done.stderr or done.stdout)
            raise ConfigError(f"PBS refused the job: {said}", fix=FIX, path=script)
        return parse_job_id(done.stdout)

    def _remove(self, run, job_ids: list[str]) -> None:
        if job_ids:
            run_tool(["qdel", *job_ids], check=False)

    def _view(self, run, log: aj.SubmissionLog) -> dict[tuple[str, int], TaskState] | None:
        """{(printed job id, element from 0): state} for the run's jobs, from one qstat call."""
        ids = log.job_ids()
        if not ids:
            return {}
        flavor = resolve_flavor(load_options(run.job.target_options))
        text = aj.ask(["qstat", "-f", "-t", *(["-x"] if flavor == "pro" else []), *ids])
        if text is None:
            return None
        printed = {sequence(job_id): job_id for job_id in ids}
        view = {}
        for (number, element), attributes in parse_qstat_full(text).items():
            state = task_state(attributes)
            if number in printed and state is not None:
                view[(printed[number], element or 0)] = state
        return view
