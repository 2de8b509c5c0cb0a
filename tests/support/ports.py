"""A free loopback TCP port for a process a test starts (operator probes, the API, a registry).

Used by tests/support/processes.py, tests/support/registry_peer.py and the tests that start processes.
"""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it; the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
