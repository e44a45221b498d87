"""The IBM Spectrum LSF target: `freight run --target lsf`.

One job array per chunk of rows (templates/lsf.bsub.j2), handed to `bsub < SCRIPT` (bsub reads
`#BSUB` lines from a script given on its standard input). LSF numbers array elements from 1
(`LSB_JOBINDEX`) and caps the index itself at MAX_JOB_ARRAY_SIZE (1000 by default), so every
array is `name[1-k]` and the script adds its chunk's first row: element i runs row i-1+offset.

- Resources: `-n C` with `span[hosts=1]` (one task's cores on one host), `-R "rusage[mem=M]"`
  (reserved per host by default, so the whole task's memory), `-gpu "num=G"`, typed GPUs with
  `:gmodel=TYPE` (LSB_GPU_NEW_SYNTAX=extend), `-W` minutes, `-q`, `-P`; --max-parallel is the
  array's `%K`.
- bsub answers "Job <1234> is submitted to queue <normal>."; `bjobs -a -o "jobid jobindex stat
  exit_code" -json ID...` lists every element (finished ones for CLEAN_PERIOD); `bkill ID`.
Nothing of LSF can be installed here: scripts are shellchecked and compared with golden files,
and the parsers are tested on the outputs the LSF documentation shows (tests/sched/test_lsf.py).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys

from pydantic import BaseModel, ConfigDict, Field, field_validator

from freight.errors import ConfigError, FreightError, MissingToolError
from freight.sched import arrayjobs as aj
from freight.sched.base import Capabilities, Submission, refuse_unsupported
from freight.sched.batch import one_line, run_tool
from freight.sched.render import render_template
from freight.spec.state import TaskState
from freight.task import DEFAULT_KILL_GRACE_S

RUNLIMIT_MARGIN_S = int(DEFAULT_KILL_GRACE_S) + 20  # the wrapper's own limit and grace go first
FIX = "check [targets.lsf] in freight.toml (queue, project, bsub_args) against `bqueues`"
_SUBMITTED = re.compile(r"Job <(\d+)> is submitted")
_GPU_MODEL = re.compile(r"^[A-Za-z0-9_.#-]+$")
STATUS_FIELDS = "jobid jobindex stat exit_code"


class LsfOptions(BaseModel):
    """`[targets.lsf]` in freight.toml (and --queue, --account, --target-opt)."""

    model_config = ConfigDict(extra="forbid")

    queue: str | None = None  # -q
    project: str | None = None  # -P
    account: str | None = None  # --account: LSF's project, -P, when `project` is not set
    bsub_args: list[str] = Field(default_factory=list)  # extra `#BSUB` lines, e.g. "-N"
    max_array_size: int = Field(1000, ge=1)  # MAX_JOB_ARRAY_SIZE in lsb.params

    @field_validator("queue", "project", "account")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        return aj.one_word(value)

    @field_validator("bsub_args")
    @classmethod
    def _flag_lines(cls, lines: list[str]) -> list[str]:
        return aj.flag_lines(lines, "bsub", "-N")


def load_options(options: dict) -> LsfOptions:
    return aj.load_options(LsfOptions, "lsf", options, FIX)


# -- rendering -------------------------------------------------------------------------------------


def job_spec(name: str, count: int, throttle: int | None) -> str:
    """-J "name[1-k]%K" for an array; the plain name for one row."""
    if count < 2:
        return name
    return f"{name}[1-{count}]" + (f"%{throttle}" if throttle else "")


def gpu_request(gpus: int, gpu_type: str | None) -> str | None:
    if not gpus:
        return None
    if gpu_type and not _GPU_MODEL.match(gpu_type):
        raise ConfigError(f"GPU model {gpu_type!r} cannot go into bsub -gpu", fix="use the model name `lshosts -gpu` shows")
    return f"num={gpus}" + (f":gmodel={gpu_type}" if gpu_type else "")


def run_limit(seconds: int | None) -> str | None:
    """-W [hour:]minute, rounded up, with the wrapper's own limit and grace inside it."""
    if not seconds:
        return None
    hours, minutes = divmod(math.ceil((seconds + RUNLIMIT_MARGIN_S) / 60), 60)
    return f"{hours}:{minutes:02d}"


def job_name(run_id: str) -> str:
    """Array names take a-z A-Z 0-9 . - _ only (the run id's own characters)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)


# -- what LSF says ---------------------------------------------------------------------------------


def parse_job_id(text: str) -> str:
    """"Job <1234> is submitted to queue <normal>." -> "1234"."""
    match = _SUBMITTED.search(text)
    if not match:
        raise ConfigError(f"bsub answered {one_line(text)!r}, not a job id", fix=FIX)
    return match.group(1)


def parse_bjobs_json(text: str) -> dict[tuple[str, int], dict[str, str]]:
    """`bjobs -o "jobid jobindex stat exit_code" -json` -> {(job id, element from 0): record}.
    A job that is not an array has JOBINDEX 0; an element's JOBID may also read "1234[3]"."""
    records = {}
    for record in json.loads(text).get("RECORDS", []):
        job = str(record.get("JOBID", ""))
        match = re.match(r"^(\d+)(?:\[(\d+)\])?$", job)
        if not match:
            continue  # e.g. {"ERROR": "Job <9> is not found"}
        index = match.group(2) or str(record.get("JOBINDEX") or "0")
        element = max(int(index) - 1, 0) if index.isdigit() else 0
        records[(match.group(1), element)] = {k: str(v) for k, v in record.items()}
    return records


def task_state(stat: str) -> TaskState | None:
    """bjobs STAT -> freight's: PEND PSUSP WAIT wait; RUN USUSP SSUSP (suspended while running)
    run; DONE EXIT ended (if its wrapper wrote nothing, it never ran the task); UNKWN unknown."""
    if stat in ("PEND", "PSUSP", "WAIT", "PROV"):
        return TaskState.queued
    if stat in ("RUN", "USUSP", "SSUSP"):
        return TaskState.running
    if stat in ("DONE", "EXIT", "ZOMBI"):
        return TaskState.failed
    return None


# -- the target ------------------------------------------------------------------------------------


class LsfTarget(aj.ArrayTarget):
    name = "lsf"
    label = "LSF"
    capabilities = Capabilities(throttle=True, gpu_types=True, multi_node=False, requeue=False)

    def check(self, job) -> None:
        refuse_unsupported(self, job)
        aj.refuse_unsupported_extras(self, job)
        load_options(job.target_options)
        gpu_request(job.resources.gpus, job.resources.gpu_type)
        if shutil.which("bsub") is None:
            raise MissingToolError("bsub is not installed here (needed for --target lsf)",
                                   fix="run freight on the cluster's login node (source LSF's profile.lsf first)")

    def submit(self, run, indices: list[int]) -> Submission:
        log = aj.SubmissionLog(run.paths.root, self.name)
        argv = self._path_argv(run, 0)[1]
        return aj.submit_planned(run, log, self._plan(run, indices), lambda script: bsub(argv, script), bkill)

    # -- helpers ------------------------------------------------------------------------------

    def _plan(self, run, indices: list[int]) -> list[aj.Planned]:
        job, res = run.job, run.job.resources
        opts = load_options(job.target_options)
        base = {"run_id": run.id, "python": sys.executable, "run_dir": str(run.paths.root),
                "queue": opts.queue, "project": opts.project or opts.account, "cpus": res.cpus,
                "mem": f"{res.mem_mb}MB" if res.mem_mb else None, "gpu": gpu_request(res.gpus, res.gpu_type),
                "walltime": run_limit(res.time_s), "extra": opts.bsub_args}
        planned = []
        for chunk in aj.plan_chunks(indices, opts.max_array_size, aj.next_number(run.paths.scripts, "lsf")):
            name = f"lsf-{chunk.number}"
            rows = run.paths.scripts / f"{name}.rows" if chunk.mapped and chunk.count > 1 else None
            path_lines, argv = self._path_argv(run, chunk.number)
            script = render_template("lsf.bsub.j2", **base, count=chunk.count, offset=chunk.offset,
                                     job_spec=job_spec(job_name(run.id), chunk.count, job.max_parallel),
                                     array=chunk.count > 1, rows_file=str(rows) if rows else "",
                                     path_lines=path_lines, bsub_argv=argv)
            files = {f"{name}.sh": script}
            if rows:
                files[rows.name] = aj.rows_file_text(chunk)
            planned.append(aj.Planned(chunk, files))
        return planned

    def _path_argv(self, run, number: int) -> tuple[list[str], list[str]]:
        """-o/-e: LSF's own output of each element, %J the job id and %I the element."""
        logs = run.paths.root / aj.LOG_DIR
        return aj.path_options([("-o", f"{logs}/lsf-{number}.%J.%I.out"), ("-e", f"{logs}/lsf-{number}.%J.%I.err")])

    def _remove(self, run, job_ids: list[str]) -> None:
        bkill(job_ids)

    def _view(self, run, log: aj.SubmissionLog) -> dict[tuple[str, int], TaskState] | None:
        ids = log.job_ids()
        if not ids:
            return {}
        text = aj.ask(["bjobs", "-a", "-o", STATUS_FIELDS, "-json", *ids])
        try:
            records = parse_bjobs_json(text) if text is not None else None
        except ValueError:
            records = None
        if records is None:
            return None
        return {key: state for key, record in records.items() if (state := task_state(record.get("STAT", "")))}


def bsub(argv: list[str], script) -> str:
    """`bsub [argv] < script`: #BSUB lines are read from a script on standard input."""
    if shutil.which("bsub") is None:
        raise MissingToolError("bsub is not installed here (needed for --target lsf)", fix="run freight on the cluster's login node")
    try:
        with open(script, "rb") as stdin:
            done = subprocess.run(["bsub", *argv], stdin=stdin, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise FreightError("bsub did not answer within 120 s", fix="check that LSF is up, then try again") from None
    if done.returncode != 0:
        raise ConfigError(f"LSF refused the job: {one_line(done.stderr or done.stdout)}", fix=FIX, path=script)
    return parse_job_id(done.stdout)


def bkill(job_ids: list[str]) -> None:
    if job_ids:
        run_tool(["bkill", *job_ids], check=False)
