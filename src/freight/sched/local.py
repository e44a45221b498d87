"""The local target: this machine, no scheduler. The embedded default.

`submit` starts a detached supervisor (sched/local_pool.py) that runs the tasks in parallel
within the machine's cores, memory and GPUs; its pid is kept in the run folder so `cancel`
can reach it and `status` can tell a stalled run from a running one.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

from freight.errors import ConfigError
from freight.fsutil import read_json, write_json_atomic
from freight.runs.layout import RunPaths
from freight.runs.store import pid_alive
from freight.sched.base import Capabilities, Submission, refuse_unsupported
from freight.sched.batch import consecutive_ranges
from freight.sched.local_pool import Capacity
from freight.sched.render import render_template
from freight.spec.job import Job
from freight.spec.state import TaskState

SUPERVISORS = "local-supervisors.json"


class LocalTarget:
    name = "local"
    # Several "nodes" only through a launcher: each is a process group on this machine.
    capabilities = Capabilities(gpu_types=False, multi_node=False, requeue=False, launchers=("ray", "torchrun"))

    def check(self, job: Job) -> None:
        refuse_unsupported(self, job)
        have, wants = Capacity.detect(), job.resources
        if wants.cpus > have.cpus:
            raise ConfigError(
                f"each task asks for {wants.cpus} CPUs but this machine has {have.cpus}",
                fix=f"use --cpus {have.cpus} or less, or run on a cluster --target",
            )
        if wants.mem_mb and wants.mem_mb > have.mem_mb:
            raise ConfigError(
                f"each task asks for {wants.mem_mb} MB of memory but this machine has {have.mem_mb} MB",
                fix="lower --mem, or run on a cluster --target",
            )
        if wants.gpus > len(have.gpu_ids):
            raise ConfigError(
                f"each task asks for {wants.gpus} GPU(s) but this machine has "
                f"{len(have.gpu_ids)} (nvidia-smi)",
                fix="drop --gpus to run on the CPU, or run on a GPU cluster --target",
            )

    def render(self, run, indices: list[int]) -> dict[str, str]:
        job, capacity = run.job, Capacity.detect()
        parallel = min(capacity.cpus // job.resources.cpus, job.max_parallel or sys.maxsize)
        script = render_template(
            "local.sh.j2", run_id=run.id, count=len(indices), ranges=consecutive_ranges(indices),
            parallel=max(parallel, 1),
            cpus=capacity.cpus, gpus=capacity.gpu_ids, workdir=job.workdir,
            python=sys.executable, run_dir=run.paths.root,
        )
        return {"local.sh": script}

    def submit(self, run, indices: list[int]) -> Submission:
        paths: RunPaths = run.paths
        paths.scripts.mkdir(parents=True, exist_ok=True)
        for name, text in self.render(run, indices).items():
            (paths.scripts / name).write_text(text)
        indices_file = paths.scripts / f"local-submit-{time.time_ns()}.json"
        indices_file.write_text(json.dumps(indices))
        with open(paths.root / "supervisor.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "freight.sched.local_pool", str(paths.root), str(indices_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, close_fds=True,
            )
        self._remember_supervisor(paths, process.pid)
        scheduler_id = f"local:{process.pid}"
        return Submission(ids={index: scheduler_id for index in indices})

    def poll(self, run) -> dict[int, TaskState]:
        """Tasks without a state file are queued while a supervisor lives, else never started."""
        waiting = TaskState.queued if self.supervisor_alive(run.paths) else TaskState.pending
        return {
            task.index: waiting
            for task in run.tasks()
            if not run.paths.state(task.index).exists()
        }

    def is_alive(self, run, index: int, state: dict) -> bool | None:
        if state.get("host") != socket.gethostname():
            return None
        return pid_alive(state.get("wrapper_pid"))

    def cancel(self, run) -> None:
        for pid in self._supervisors(run.paths):
            _signal(pid, signal.SIGTERM)
        # Wrappers of a supervisor that is already gone still get the signal, from their state.
        for task in run.tasks():
            state = read_json(run.paths.state(task.index), {}) or {}
            if state.get("state") == "running" and self.is_alive(run, task.index, state):
                _signal(state.get("wrapper_pid"), signal.SIGTERM)

    def sleep_until_done(self, run, seconds: float) -> None:
        """Sleep `seconds`, waking early when a supervisor of the run exits (its tasks are
        finished then). Linux pidfds; elsewhere, or with no supervisor running, a plain sleep."""
        pidfds = [fd for fd in map(_pidfd, self._supervisors(run.paths)) if fd is not None]
        try:
            if pidfds:
                select.select(pidfds, [], [], seconds)
            else:
                time.sleep(seconds)
        finally:
            for fd in pidfds:
                os.close(fd)

    def supervisor_alive(self, paths: RunPaths) -> bool:
        return any(pid_alive(pid) for pid in self._supervisors(paths))

    def _supervisors(self, paths: RunPaths) -> list[int]:
        return [int(pid) for pid in read_json(paths.root / SUPERVISORS, []) or []]

    def _remember_supervisor(self, paths: RunPaths, pid: int) -> None:
        write_json_atomic(paths.root / SUPERVISORS, [*self._supervisors(paths), pid])


def _pidfd(pid: int) -> int | None:
    """A file descriptor that becomes readable when process `pid` exits; None when it has
    exited already (a zombie's pidfd would wake every sleep at once) or on systems without
    pidfds (not Linux 5.3+)."""
    if not pid_alive(pid):
        return None
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _signal(pid: int | None, signum: int) -> None:
    if pid:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
