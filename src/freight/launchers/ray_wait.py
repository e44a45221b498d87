"""Wait until a Ray cluster has N live nodes: `python ray_wait.py ADDRESS N TIMEOUT_S [PID...]`.

The Ray launcher script (sched/templates/launch/ray.sh.j2) carries this file's text and runs it
with `python -c` in the program's interpreter, inside the image when there is one, where ray
is installed and freight may not be. So: stdlib and ray only. It polls the head's GCS (a
cheap call, no driver started) and fails at once when one of the PIDs (the node processes the
script started) has ended, instead of waiting out the timeout. Exit 0: joined; 1: not in time;
3: a node process ended.
"""

import os
import sys
import time

POLL_S = 0.2


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def live_nodes(address: str) -> int:
    """Nodes the GCS reports alive; 0 while it does not answer yet."""
    try:
        from ray._raylet import GcsClient  # internal, but it needs no driver (ray.init does)

        nodes = GcsClient(address=address).get_all_node_info(timeout=2)
    except Exception:  # not up yet, or another Ray version: the public API below
        return public_live_nodes(address)
    return sum(1 for info in nodes.values() if info.state == 0)  # 0: ALIVE


def public_live_nodes(address: str) -> int:
    try:
        import ray

        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        try:
            return sum(1 for node in ray.nodes() if node.get("Alive"))
        finally:
            ray.shutdown()
    except Exception:
        return 0


def main(argv: list[str]) -> int:
    address, wanted, limit = argv[0], int(argv[1]), float(argv[2])
    pids = [int(pid) for pid in argv[3:]]
    deadline = time.monotonic() + limit
    seen = 0
    while time.monotonic() < deadline:
        seen = live_nodes(address)
        if seen >= wanted:
            return 0
        ended = [pid for pid in pids if not alive(pid)]
        if ended:
            print(f"freight: a Ray node process ended before the cluster was up (pid {ended[0]});"
                  " see the lines above", file=sys.stderr)
            return 3
        time.sleep(POLL_S)
    print(f"freight: {seen} of {wanted} Ray node(s) joined within {limit:.0f} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    raise SystemExit(main(sys.argv[1:]))
