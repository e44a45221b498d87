"""The local target's supervisor: runs a run's tasks on this machine, as many at once as fit.

It is started detached (`python -m freight.sched.local_pool RUN_DIR INDICES_FILE`) so that
`freight run --no-wait` can return and a killed `freight` client loses nothing; `freight wait`
follows the task state files like it does on every other target.

Each task is forked from this process and runs the task wrapper's code directly: a fork costs
about a millisecond where starting another Python interpreter costs tens, which is most of the
per-task overhead for sweeps of many short tasks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from freight import task as task_wrapper  # imported once here, not in every forked task
from freight.fsutil import read_json, write_json_atomic
from freight.runs.layout import RunPaths


@dataclass
class Capacity:
    """What this machine offers the pool. FREIGHT_LOCAL_{CPUS,MEM,GPUS} override detection."""

    cpus: int
    mem_mb: int
    gpu_ids: list[str] = field(default_factory=list)

    @classmethod
    def detect(cls) -> Capacity:
        cpus = int(os.environ.get("FREIGHT_LOCAL_CPUS") or len(os.sched_getaffinity(0)))
        mem = os.environ.get("FREIGHT_LOCAL_MEM")
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        return cls(cpus=cpus, mem_mb=int(mem) if mem else total_mb, gpu_ids=_detect_gpus())


def _detect_gpus() -> list[str]:
    override = os.environ.get("FREIGHT_LOCAL_GPUS")
    if override is not None:
        return [g for g in override.split(",") if g.strip()]
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listed.splitlines() if line.strip()]


@dataclass(frozen=True)
class Wants:
    """What each task asks for, read from job.json's resources without pydantic: importing it
    would delay the first task by as long as a task takes."""

    cpus: int = 1
    mem_mb: int | None = None
    gpus: int = 0

    @classmethod
    def from_job(cls, job: dict) -> Wants:
        resources = job.get("resources") or {}
        return cls(int(resources.get("cpus") or 1), resources.get("mem_mb"), int(resources.get("gpus") or 0))


class SlotPool:
    """Cores, memory and GPUs left; a task starts only when all it asks for is free."""

    def __init__(self, capacity: Capacity, wants: Wants, max_parallel: int | None):
        self.cpus, self.mem_mb = capacity.cpus, capacity.mem_mb
        self.free_gpus = deque(capacity.gpu_ids)
        self.wants = wants
        self.max_parallel = max_parallel or sys.maxsize
        self.in_use = 0

    def fits(self) -> bool:
        return (
            self.in_use < self.max_parallel
            and self.wants.cpus <= self.cpus
            and (self.wants.mem_mb or 0) <= self.mem_mb
            and self.wants.gpus <= len(self.free_gpus)
        )

    def take(self) -> list[str]:
        self.in_use += 1
        self.cpus -= self.wants.cpus
        self.mem_mb -= self.wants.mem_mb or 0
        return [self.free_gpus.popleft() for _ in range(self.wants.gpus)]

    def give_back(self, gpus: list[str]) -> None:
        self.in_use -= 1
        self.cpus += self.wants.cpus
        self.mem_mb += self.wants.mem_mb or 0
        self.free_gpus.extend(gpus)


class Supervisor:
    def __init__(self, paths: RunPaths, indices: list[int]):
        self.paths = paths
        self.queue = deque(indices)
        job = read_json(paths.job)
        self.pool = SlotPool(Capacity.detect(), Wants.from_job(job), job.get("max_parallel"))
        self.running: dict[int, tuple[int, list[str]]] = {}  # pid -> (task index, its GPUs)
        self.stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while self.queue or self.running:
            self._start_what_fits()
            if not self.running:
                break
            self._reap_one()
        self._cancel_unstarted()
        return 0

    def _start_what_fits(self) -> None:
        while self.queue and not self.stopping and self.pool.fits():
            index = self.queue.popleft()
            gpus = self.pool.take()
            self.running[_fork_task(self.paths, index, gpus)] = (index, gpus)

    def _reap_one(self) -> None:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            self.running.clear()
            return
        if pid in self.running:
            _index, gpus = self.running.pop(pid)
            self.pool.give_back(gpus)

    def _stop(self, signum, _frame) -> None:
        """Cancel: start nothing more and pass the signal to every running task's wrapper."""
        self.stopping = True
        for pid in list(self.running):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _cancel_unstarted(self) -> None:
        host = socket.gethostname()
        for index in self.queue:
            write_json_atomic(
                self.paths.state(index),
                {"state": "cancelled", "index": index, "host": host,
                 "reason": "cancelled before it started", "ended": time.time()},
            )


def _fork_task(paths: RunPaths, index: int, gpus: list[str]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 70  # EX_SOFTWARE, should the wrapper itself break
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        if gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        # A requeued task is freight's to run again here, even inside an outer Slurm job.
        os.environ.pop("FREIGHT_SCHEDULER", None)
        code = task_wrapper.main([str(paths.root), "--index", str(index)])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 70)


def main(argv: list[str]) -> int:
    run_dir, indices_file = Path(argv[0]), Path(argv[1])
    indices = json.loads(indices_file.read_text())
    return Supervisor(RunPaths(run_dir), indices).run()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
