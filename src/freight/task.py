"""The task wrapper: `python -m freight.task RUN_DIR [--index N]` runs one task of a run
(`--pack FILE`: several, one after another; see task_pack.py).

Every target (local, Slurm, Grid Engine, HTCondor, ...) starts each task through this module,
so it must start fast: stdlib and the light freight modules only (no pydantic, typer or rich);
job.json is read as plain JSON. It

- finds its index (--index, $FREIGHT_TASK_INDEX, else the scheduler's array variable plus
  $FREIGHT_INDEX_OFFSET for sweeps split into several arrays),
- runs the command as an argv list (never through a shell) with `{name}` placeholders filled,
  FREIGHT_* variables, thread limits and the job's env, in its own process group, with
  stdout/stderr appended to the task's log files,
- writes state.json atomically when the program starts and when it ends,
- forwards SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2/SIGCONT so the program can checkpoint,
- enforces the time limit (SIGTERM, then SIGKILL after $FREIGHT_KILL_GRACE seconds),
- with a preemption signal ("USR1@90"), warns the program ahead of the limit, runs the
  checkpoint command and requeues the task (preempt.py),
- exits with the program's exit code (128+N when signal N killed it).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from freight.errors import FreightError, InputError
from freight.fsutil import read_json, write_json_atomic
from freight.preempt import PreemptionHandler
from freight.report import RESULT_ENV, RESULT_JSON, merge_result_env
from freight.runs.layout import RunPaths
from freight.spec.state import TaskState

USAGE = "usage: python -m freight.task RUN_DIR [--index N] [--pack FILE]"
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "FREIGHT_TORCH_THREADS",
)
# (variable, first index): Grid Engine and LSF count array tasks from 1.
SCHEDULER_INDEX_VARS = (
    ("SLURM_ARRAY_TASK_ID", 0),
    ("SGE_TASK_ID", 1),
    ("PBS_ARRAY_INDEX", 0),
    ("PBS_ARRAYID", 0),
    ("LSB_JOBINDEX", 1),
    ("JOB_COMPLETION_INDEX", 0),
)
CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
FORWARDED_SIGNALS = (*CANCEL_SIGNALS, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCONT)
DEFAULT_KILL_GRACE_S = 10.0
LOG_TAIL_BYTES = 4096
LOG_TAIL_LINES = 20


def resolve_index(explicit: int | None, env: Mapping[str, str]) -> int | None:
    """The task's index from --index, $FREIGHT_TASK_INDEX or a scheduler's array variable."""
    if explicit is not None:
        return explicit
    own = env.get("FREIGHT_TASK_INDEX", "")
    if own.isdigit():
        return int(own)
    for var, first in SCHEDULER_INDEX_VARS:
        value = env.get(var, "")  # SGE says "undefined", LSF "0" outside an array job
        if value.isdigit() and int(value) >= first:
            return int(value) - first + _int_env(env, "FREIGHT_INDEX_OFFSET")
    return None


def fill_placeholders(argv: list[str], params: Mapping[str, Any]) -> list[str]:
    """`{name}` -> the param's value, in one pass, so a value that itself contains `{other}`
    stays literal. Other braces are left alone."""
    if not params:
        return list(argv)
    values = {"{" + name + "}": str(value) for name, value in params.items()}
    pattern = re.compile("|".join(map(re.escape, values)))
    return [pattern.sub(lambda match: values[match.group()], arg) for arg in argv]


def command_argv(job: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """The program's argv: placeholders filled; `python` means the job's interpreter (in a
    container, the image's: engines/wrap.py)."""
    argv = fill_placeholders(job["command"], params)
    if argv[0] in ("python", "python3") and job.get("python") and not job.get("container"):
        argv[0] = job["python"]
    return argv


def param_env_name(name: str) -> str:
    return "FREIGHT_PARAM_" + re.sub(r"[^0-9A-Za-z]", "_", name).upper()


def task_env(job: Mapping[str, Any], paths: RunPaths, index: int, params: Mapping[str, Any],
             base: Mapping[str, str]) -> dict[str, str]:
    """The program's environment: ours, thread limits, the job's env, then freight's own."""
    env = dict(base)  # keeps the scheduler's CUDA_VISIBLE_DEVICES
    env.update(dict.fromkeys(THREAD_VARS, str(job.get("resources", {}).get("cpus", 1))))
    env.setdefault("PYTHONUNBUFFERED", "1")  # so a killed program's last lines reach the log
    env.update({str(k): str(v) for k, v in job.get("env", {}).items()})
    task_dir = paths.task_dir(index)
    env.update(
        FREIGHT_TASK_INDEX=str(index),
        FREIGHT_RUN_DIR=str(paths.root),
        FREIGHT_TASK_DIR=str(task_dir),
        FREIGHT_RESULT=str(task_dir / RESULT_ENV),
    )
    env.update({param_env_name(k): str(v) for k, v in params.items()})
    return env


def exit_status(returncode: int) -> tuple[int, str | None]:
    """Popen's returncode -> (shell-style exit code, name of the signal that killed it)."""
    if returncode >= 0:
        return returncode, None
    return 128 - returncode, signal.Signals(-returncode).name


def log_tail(paths: tuple[Path, ...], offsets: tuple[int, ...]) -> str:
    """The last lines this attempt wrote: stderr's, or stdout's when stderr is empty."""
    for path, offset in zip(paths, offsets):
        try:
            with open(path, "rb") as handle:
                handle.seek(max(offset, handle.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
                text = handle.read().decode("utf-8", errors="replace").strip()
        except OSError:
            continue
        if text:
            return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
    return ""


class TaskAttempt:
    """One run of one task: start the program, watch it, record how it ended."""

    def __init__(self, paths: RunPaths, job: Mapping[str, Any], index: int, params: dict[str, Any]):
        self.paths, self.job, self.index, self.params = paths, job, index, params
        self.task_dir = paths.task_dir(index)
        self.grace = _kill_grace(os.environ)
        self.proc: subprocess.Popen | None = None
        self.cancelled = self.timed_out = False
        self.alarm_stage = ""  # "limit" while the time limit runs, "kill" during the grace
        self.start_error = ""
        self.engine_supervises = False  # the engine stays the program's parent (ch-run on SquashFS)
        self.state: dict[str, Any] = {}
        self.preemption = PreemptionHandler(self)  # warning signal, checkpoint, requeue

    def run(self) -> int:
        self._prepare()
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, self._on_signal)
        self.preemption.install(self._on_signal)
        signal.signal(signal.SIGALRM, self._on_alarm)
        returncode = self.preemption.refusal() or self._start()
        if self.proc is not None:
            returncode = self.proc.wait()  # a blocking waitpid; signal handlers run meanwhile
        signal.setitimer(signal.ITIMER_REAL, 0)
        return self._finish(returncode)

    def _prepare(self) -> None:
        self.task_dir.mkdir(parents=True, exist_ok=True)
        _write_json_if_changed(self.paths.params(self.index), self.params)
        for stale in (RESULT_JSON, RESULT_ENV):  # a retry reports afresh
            (self.task_dir / stale).unlink(missing_ok=True)
        previous = read_json(self.paths.state(self.index), {})
        attempt = int(previous.get("attempt", 0)) + 1 if isinstance(previous, dict) else 1
        host = os.uname().nodename
        self.state = {"state": TaskState.running.value, "index": self.index, "attempt": attempt,
                      "host": host, "wrapper_pid": os.getpid(), "pid": None, "started": time.time()}
        self.preemption.carry(previous)
        self.logs = (open(self.paths.stderr(self.index), "ab"), open(self.paths.stdout(self.index), "ab"))
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log(f"==== freight: task {self.index}, attempt {attempt}, on {host}, {stamp} ====")
        self.log_offsets = tuple(log.tell() for log in self.logs)

    def _start(self) -> int | None:
        argv = command_argv(self.job, self.params)
        env = task_env(self.job, self.paths, self.index, self.params, os.environ)
        env["FREIGHT_ATTEMPT"] = str(self.state["attempt"])  # > 1: resume from a checkpoint
        if self.job.get("launcher"):  # Ray/torchrun over the nodes: its script runs the program
            argv, env = self._launched(argv, env)
            if self.start_error:
                return 127
        elif self.job.get("container") and os.environ.get("FREIGHT_IN_IMAGE"):  # a Kubernetes pod: already in it
            argv = ["python3", *argv[1:]] if argv[0] == "python" else argv
        elif self.job.get("container"):  # the program runs in the image; this wrapper stays here
            argv, env = self._containerized(argv, env)
            if self.start_error:
                return 127
        try:
            self.proc = subprocess.Popen(
                argv, cwd=self.job["workdir"], stdin=subprocess.DEVNULL, stdout=self.logs[1],
                stderr=self.logs[0], start_new_session=True, env=env,
            )
        except OSError as exc:
            return self._could_not_start(argv, exc)
        self.state["pid"] = self.proc.pid
        # Not fsynced: after a machine crash a missing "running" state reads as never started.
        write_json_atomic(self.paths.state(self.index), self.state, durable=False)
        if self.cancelled:  # a signal came while the program was being started
            self._send(signal.SIGTERM)
        time_s = self.job.get("resources", {}).get("time_s")
        if time_s:  # with a preemption signal, its warning comes first ("warn")
            warn_after = self.preemption.plan.warn_after(time_s)
            self.alarm_stage = "warn" if warn_after else "limit"
            signal.setitimer(signal.ITIMER_REAL, warn_after or float(time_s))
        return None

    def _containerized(self, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The engine's command and environment; a missing engine sets start_error instead."""
        from freight.engines.wrap import container_command  # only container jobs pay for it

        try:
            wrapped = container_command(self.job, str(self.paths.root), argv, env, dict(os.environ))
        except FreightError as exc:
            self.start_error = exc.one_line()
            self._log(f"freight: {self.start_error}")
            return argv, env
        self._log(wrapped.note)
        # ch-run on a SquashFS image stays the program's parent and serves its filesystem
        # (squashfuse): a warning signal that killed it would leave the program without files.
        engine_args = wrapped.argv[:wrapped.argv.index("--")] if "--" in wrapped.argv else wrapped.argv
        self.engine_supervises = "ch-run" in {Path(arg).name for arg in engine_args} and any(
            arg.endswith((".sqfs", ".squashfs")) for arg in engine_args)
        return wrapped.argv, wrapped.env

    def _launched(self, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """`bash SCRIPT`: the launcher's script (in the image, with one) runs the program."""
        from freight.launchers import launch_command  # only multi-node jobs pay for it

        try:
            launched = launch_command(self.job, str(self.paths.root), self.task_dir, argv, env, dict(os.environ))
        except FreightError as exc:
            self.start_error = exc.one_line()
            self._log(f"freight: {self.start_error}")
            return argv, env
        self._log(launched.note)
        return launched.argv, launched.env

    def _could_not_start(self, argv: list[str], exc: OSError) -> int:
        if exc.filename == self.job["workdir"]:
            self.start_error = f"workdir {self.job['workdir']} cannot be entered: {exc.strerror}"
        else:
            self.start_error = f"cannot run {argv[0]}: {exc.strerror}"
        self._log(f"freight: {self.start_error}")
        return 127 if isinstance(exc, FileNotFoundError) else 126

    def _finish(self, returncode: int) -> int:
        exit_code, signame = exit_status(returncode)
        state, reason = self._outcome(exit_code, signame)
        state, reason = self.preemption.settle(state, reason)  # requeued, perhaps
        try:
            merge_result_env(self.task_dir)  # before the final state: results are complete then
        except (OSError, TypeError) as exc:
            self._log(f"freight: could not merge {RESULT_ENV}: {exc}")
        tail = "" if state is TaskState.succeeded else log_tail(
            (self.paths.stderr(self.index), self.paths.stdout(self.index)), self.log_offsets)
        self.state.update(state=state.value, ended=time.time(), exit_code=exit_code,
                          signal=signame, reason=reason, log_tail=tail)
        write_json_atomic(self.paths.state(self.index), self.state)
        exit_code = self.preemption.hand_back(exit_code)
        for log in self.logs:
            log.close()
        return exit_code

    def _outcome(self, exit_code: int, signame: str | None) -> tuple[TaskState, str]:
        if self.start_error:
            return TaskState.failed, self.start_error
        if self.timed_out:
            return TaskState.failed, "timeout"
        if self.cancelled:
            return TaskState.cancelled, "cancelled"
        if signame:
            return TaskState.failed, f"killed by {signame}"
        return (TaskState.succeeded if exit_code == 0 else TaskState.failed), f"exit {exit_code}"

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.preemption.is_warning(signum):
            self.preemption.warn(signum)  # passes it on, and checkpoints
            return
        if signum in CANCEL_SIGNALS and not self.timed_out:
            self.cancelled = True  # from outside: freight cancel, preemption, Ctrl-C
            self._arm_kill()
        self._send(signum)

    def _on_alarm(self, _signum: int, _frame: Any) -> None:
        if self.alarm_stage == "warn":
            self.alarm_stage = "limit"
            self.preemption.own_warning()
        elif self.alarm_stage == "limit":
            self.timed_out = True
            self._log(f"freight: time limit of {self.job['resources']['time_s']} s reached; SIGTERM")
            self._send(signal.SIGTERM)
            self._arm_kill()
        else:
            self._send(signal.SIGKILL)

    def _arm_kill(self) -> None:
        """SIGKILL the program if it is still running `grace` seconds from now."""
        if self.alarm_stage == "kill":
            return
        self.alarm_stage = "kill"
        if self.grace > 0:
            signal.setitimer(signal.ITIMER_REAL, self.grace)
        else:
            self._send(signal.SIGKILL)

    def _send(self, signum: int) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        if self.engine_supervises and signum not in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT):
            _signal_group_but_leader(self.proc.pid, signum)  # the program, not the engine serving it
            return
        try:
            os.killpg(self.proc.pid, signum)  # the whole group: a shell script's children too
        except (ProcessLookupError, PermissionError):
            pass

    def _log(self, line: str) -> None:
        self.logs[0].write(line.encode("utf-8", errors="replace") + b"\n")
        self.logs[0].flush()


def _signal_group_but_leader(leader: int, signum: int) -> None:
    """`signum` to every process of the group `leader` leads, except the leader (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == leader:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == leader:  # field 5 of stat, the process group
                os.kill(int(entry.name), signum)
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours


def load_job(run_dir: str) -> tuple[RunPaths, dict]:
    """The run's paths and job.json; InputError when it is not a run folder."""
    paths = RunPaths(Path(run_dir).resolve())
    job = read_json(paths.job)
    if not isinstance(job, dict) or not job.get("command"):
        raise InputError("no readable job.json: not a freight run folder", path=paths.root,
                         fix="pass the run folder, .freight/runs/<run-id>")
    return paths, job


def load_task(run_dir: str, explicit_index: int | None) -> tuple[RunPaths, dict, int, dict]:
    """The run's paths, job.json, this task's index and params; InputError when they are missing."""
    paths, job = load_job(run_dir)
    index = resolve_index(explicit_index, os.environ)
    if index is None:
        if _count_tasks(paths) != 1:
            raise InputError("no task index: none of --index, $FREIGHT_TASK_INDEX or a scheduler "
                             "array variable is set", fix="pass --index N")
        index = 0
    params = _task_params(paths, index)
    if params is None:
        raise InputError(f"task {index} does not exist: the run has {_count_tasks(paths)} tasks",
                         path=paths.tasks)
    return paths, job, index, params


def main(argv: list[str] | None = None) -> int:
    try:
        run_dir, index, pack_file = _parse_argv(sys.argv[1:] if argv is None else argv)
        if pack_file is not None:  # several rows, one after another: task_pack.py
            from freight.task_pack import load_pack

            runner = load_pack(run_dir, index, pack_file)
        else:
            runner = TaskAttempt(*load_task(run_dir, index))
    except FreightError as exc:
        print(f"freight.task: error: {exc.one_line()}", file=sys.stderr)
        return 2
    return runner.run()


def _parse_argv(args: list[str]) -> tuple[str, int | None, str | None]:
    """RUN_DIR [--index N] [--pack FILE]; argparse would cost more start-up time than this
    whole module."""
    rest = list(args)
    index, pack_file = _take_option(rest, "--index"), _take_option(rest, "--pack")
    if index is not None and not index.isdigit():
        raise InputError(f"--index needs a number, not {index!r}", fix=USAGE)
    if pack_file == "":
        raise InputError("--pack needs a pack file", fix=USAGE)
    if len(rest) != 1 or rest[0].startswith("-"):
        raise InputError(f"expected one run folder, got {rest}", fix=USAGE)
    return rest[0], int(index) if index is not None else None, pack_file


def _take_option(args: list[str], flag: str) -> str | None:
    """Remove `FLAG VALUE` or `FLAG=VALUE` from args and return VALUE ("" when it is missing)."""
    for i, arg in enumerate(args):
        if arg == flag or arg.startswith(flag + "="):
            value = arg.partition("=")[2] if "=" in arg else (args[i + 1] if i + 1 < len(args) else "")
            del args[i : i + (1 if "=" in arg else 2)]
            return value
    return None


def _task_params(paths: RunPaths, index: int) -> dict[str, Any] | None:
    """Line `index` of tasks.jsonl, reading no further than that line."""
    try:
        with open(paths.tasks, encoding="utf-8") as handle:
            line = next(islice(handle, index, None), "")
    except OSError:
        return None
    return json.loads(line).get("params", {}) if line.strip() else None


def _count_tasks(paths: RunPaths) -> int:
    try:
        with open(paths.tasks, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return 0


def _write_json_if_changed(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    path.write_text(text, encoding="utf-8")  # the program reads it only after this returns


def _int_env(env: Mapping[str, str], name: str) -> int:
    value = env.get(name, "").strip()
    if value and not value.lstrip("-").isdigit():
        raise InputError(f"${name} must be a whole number, not {value!r}")
    return int(value or 0)


def _kill_grace(env: Mapping[str, str]) -> float:
    try:
        return float(env.get("FREIGHT_KILL_GRACE", DEFAULT_KILL_GRACE_S))
    except ValueError:
        return DEFAULT_KILL_GRACE_S


if __name__ == "__main__":
    raise SystemExit(main())
