"""Free ports and this node's address, for launcher scripts: `python -m freight.launchers.ports`.

    ports N          N distinct free TCP ports, one per line
    ports --window W the first port of W consecutive free ports (Ray's worker port range)
    ports --ip       the address other nodes reach this one at

Ports are picked on the node that will use them, right before use, so two jobs sharing a node
do not collide (fixed defaults such as Ray's 6379 and 8265 do). A port is free when it can be
bound now; the few milliseconds until the program binds it are a race no scheduler avoids.
Stdlib only: it runs on compute nodes with whatever python has freight.
"""

from __future__ import annotations

import random
import socket
import sys
from contextlib import ExitStack

# Above the well-known ports, below Linux's ephemeral range (32768-60999), where the kernel
# hands out client ports: a window there would be taken by outgoing connections.
WINDOW_RANGE = (20000, 32000)
WINDOW_TRIES = 200


def free_ports(count: int) -> list[int]:
    """`count` distinct ports the kernel says are free (all held open until each is chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def free_window(width: int, rng: random.Random | None = None) -> int:
    """The first of `width` consecutive free ports, at a random place in WINDOW_RANGE."""
    rng = rng or random.SystemRandom()
    low, high = WINDOW_RANGE
    for _ in range(WINDOW_TRIES):
        start = rng.randrange(low, high - width)
        if all(port_free(port) for port in range(start, start + width)):
            return start
    raise OSError(f"no {width} consecutive free ports between {low} and {high}")


def node_address() -> str:
    """The address of the interface with the default route (no packet is sent), else the
    host name's; 127.0.0.1 only on a machine without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET: never routed anywhere for real
            address = sock.getsockname()[0]
        except OSError:
            address = ""
    if address and not address.startswith("127."):
        return address
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def main(argv: list[str]) -> int:
    if argv == ["--ip"]:
        print(node_address())
    elif len(argv) == 2 and argv[0] == "--window" and argv[1].isdigit():
        print(free_window(int(argv[1])))
    elif len(argv) == 1 and argv[0].isdigit():
        print("\n".join(map(str, free_ports(int(argv[0])))))
    else:
        print("usage: python -m freight.launchers.ports N | --window W | --ip", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
