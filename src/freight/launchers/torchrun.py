"""The torchrun launcher (`--torchrun`): one `torchrun` per node, meeting at a c10d rendezvous
on a free port of the allocation's first node; `--nproc-per-node` is the GPUs per node, or 1
on CPUs. A `python SCRIPT ARGS` command becomes `torchrun … SCRIPT ARGS` (`python -m MOD`:
`torchrun … -m MOD`); any other program runs with `--no-python`.
"""

from __future__ import annotations

from pathlib import Path

from freight.launchers import Launch
from freight.sched.render import render_template


def program_args(driver: list[str], python: str) -> list[str]:
    """What follows torchrun's own options: the script (or -m module) and its arguments."""
    first = driver[0] if driver else ""
    if first == python or Path(first).name.startswith("python"):
        rest = driver[1:]
        if rest[:1] == ["-m"]:
            return ["-m", *rest[1:]]
        return ["--", *rest] if rest else []
    return ["--no-python", "--", *driver]


def render(launch: Launch) -> str:
    return render_template("launch/torchrun.sh.j2", **launch.context(), nproc=max(launch.gpus, 1),
                           program=program_args(launch.driver, launch.python))
