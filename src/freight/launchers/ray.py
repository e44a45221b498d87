"""The Ray launcher (`--ray`): a Ray cluster over the task's nodes, the program as its driver.

Compared with Ray's documented sbatch example (a fixed 6379, `sleep 10` after the head and
`sleep 5` per worker): every port is picked free on its node when it starts, so two clusters
share a node; the script polls the head until all nodes have joined and fails fast when a node
process dies; the dashboard is off; the inner srun runs without the outer step's variables;
and every Ray process is stopped when the driver ends or the task is cancelled.
"""

from __future__ import annotations

from pathlib import Path

from freight.launchers import Launch
from freight.sched.render import render_template

WORKER_PORTS = 64  # the width of each node's worker port range (one port per worker process)


def wait_code() -> str:
    """ray_wait.py's text: the script runs it with `python -c`, in the image when there is one."""
    return (Path(__file__).parent / "ray_wait.py").read_text(encoding="utf-8")


def render(launch: Launch) -> str:
    return render_template("launch/ray.sh.j2", **launch.context(), wait_code=wait_code(),
                           worker_ports=WORKER_PORTS)
