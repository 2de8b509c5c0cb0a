"""Authentication failures per client address: after too many 401s, the address is told to wait (429).

:meth:`AuthFailures.record` is called by the ``current_identity`` dependency
(:mod:`platform_api.deps`) for every 401 it answers; :meth:`AuthFailures.locked_for` by the
lockout middleware (:mod:`platform_api.middleware.lockout`) before a request's body is read or its
token verified, so that an address guessing tokens costs the API almost nothing once it is locked.

The address is the ASGI client (the TCP peer, or what uvicorn's ``--forwarded-allow-ips`` made of
``X-Forwarded-For``); IPv6 addresses count per /64, the block a single host usually holds. In-process:
each API replica counts its own failures.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AuthFailures", "client_key"]


def client_key(host: str | None) -> str:
    """The key failures are counted under: the IPv4 address, the IPv6 /64, or the host as given."""
    if not host:
        return "unknown"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


@dataclass(slots=True)
class _Window:
    started: float
    failures: int = 0
    locked_until: float = 0.0


class AuthFailures:
    """At most ``limit`` failures per ``window_seconds``; the one that reaches it locks the address that long."""

    def __init__(self, *, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._windows: dict[str, _Window] = {}

    def locked_for(self, key: str) -> int:
        """Whole seconds ``key`` must still wait (0 when it may try)."""
        entry = self._windows.get(key)
        if entry is None:
            return 0
        remaining = entry.locked_until - self.clock()
        return math.ceil(remaining) if remaining > 0 else 0

    def record(self, key: str) -> int:
        """Count one failure of ``key``; return the seconds it is now locked for (0 when not locked)."""
        now = self.clock()
        entry = self._windows.get(key)
        if entry is None or now - entry.started >= self.window and entry.locked_until <= now:
            if entry is None and len(self._windows) >= self.max_keys:
                self._evict(now)
            entry = self._windows[key] = _Window(started=now)
        entry.failures += 1
        if entry.failures >= self.limit and entry.locked_until <= now:
            entry.locked_until = now + self.window
        return self.locked_for(key)

    def _evict(self, now: float) -> None:
        # Windows that are over and not locked carry nothing worth keeping; failing that, the oldest go.
        for key in [k for k, w in self._windows.items() if now - w.started >= self.window and w.locked_until <= now]:
            del self._windows[key]
        if len(self._windows) >= self.max_keys:
            for key in list(self._windows)[: self.max_keys // 2]:
                del self._windows[key]
