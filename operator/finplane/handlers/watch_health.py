"""Liveness that means "the watches are alive", not merely "the process runs".

kopf's liveness endpoint answers 200 as long as the event loop turns, even when every watch
stream has silently stalled (a proxy or load balancer that keeps the TCP connection open but
forwards nothing). kopf re-establishes a stream after `settings.watching.inactivity_timeout`,
but if the new streams stall too the operator is blind and nothing restarts it.

This module records when any watch stream last delivered something (an event or a bookmark; kopf
asks for bookmarks, and a healthy API server sends them periodically even when nothing changes),
by wrapping kopf's private `watch_objs` (the one function every stream goes through) in
`finplane.handlers.kopf_seams`, whose tests pin it. A `@kopf.on.probe` handler
fails the /healthz probe while nothing has arrived for longer than the threshold.
Installed by `handlers.main` at import time; read by its probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import kopf

from finplane.handlers import kopf_seams

__all__ = ["WatchHeartbeat", "heartbeat", "install"]


class WatchHeartbeat:
    """The monotonic time of the last thing any watch stream delivered."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock()
        self.last: float | None = None
        self.received = 0

    def beat(self) -> None:
        self.last = self._clock()
        self.received += 1

    def silent_for(self) -> float:
        """Seconds since the last delivery (since start-up when nothing arrived yet)."""
        return self._clock() - (self.last if self.last is not None else self.started)


heartbeat = WatchHeartbeat()


def install(beat: WatchHeartbeat = heartbeat) -> None:
    """Wrap kopf's watch streams once (`kopf_seams.wrap_watch_streams`) so every raw event and bookmark beats `beat`."""
    kopf_seams.wrap_watch_streams(beat.beat)


def register_probe(*, threshold_seconds: float, beat: WatchHeartbeat = heartbeat) -> None:
    """Make /healthz fail (HTTP 500) while no watch stream delivered anything for `threshold_seconds`."""

    @kopf.on.probe(id="watches")
    def watches(**_: Any) -> dict[str, Any]:
        silent = beat.silent_for()
        if silent > threshold_seconds:
            # PermanentError: kopf's probe activity gives up at once, so the endpoint answers 500.
            raise kopf.PermanentError(f"no watch stream delivered anything for {silent:.0f}s "
                                      f"(threshold {threshold_seconds:.0f}s)")
        return {"silentSeconds": round(silent, 1), "received": beat.received}
