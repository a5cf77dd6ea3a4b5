"""Free loopback ports for the servers tests start, outside the kernel's ephemeral range.

A port the kernel hands out for ``bind(0)`` comes from the same range it gives every
outgoing connection, so between the check and the server's own bind a client socket
(a request to HAPI, Keycloak, a token endpoint) can take it. A port below that range is
never handed out implicitly; only another test choosing the same one could take it.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
FALLBACK_EPHEMERAL_START = 32768  # Linux's default first ephemeral port
LOWEST = 10000  # above the well-known and most registered service ports


def _ephemeral_start() -> int:
    try:
        return int(RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return FALLBACK_EPHEMERAL_START


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port nothing listens on now, below the ephemeral range when it can be.

    Falls back to the kernel's choice when the range leaves no room below it.
    """
    top = _ephemeral_start() - 1
    if top > LOWEST:
        for _ in range(200):
            port = random.randint(LOWEST, top)
            if _bindable(port):
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen
