"""Know whether this replica is paused by kopf peering, so Finplane's own workers pause too.

kopf pauses a replica when a peer with a higher priority is alive, but it pauses only the watch
streams: work already queued in Finplane's queues, retries and the drift timer would still run and
reconcile beside the active replica. kopf keeps the decision in a private toggle that it hands to
every peering event; `finplane.handlers.kopf_seams.wrap_peering_events` reads it for us.
Installed by `handlers.main` before `kopf.run`; read through `Runtime.is_paused`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from finplane.handlers import kopf_seams

__all__ = ["install", "on_resume", "paused"]

log = logging.getLogger("finplane.peering")
_state = {"paused": False}
#: Called when this replica becomes active again (`handlers.main` replays the runtime's stores).
_on_resume: list[Callable[[], None]] = []


def paused() -> bool:
    return _state["paused"]


def _observe(now_paused: bool) -> None:
    if now_paused != _state["paused"]:
        _state["paused"] = now_paused
        log.info("This replica is %s", "standby: reconciles paused" if now_paused else "active again")
        if not now_paused:
            for callback in list(_on_resume):
                callback()


def on_resume(callback: Callable[[], None]) -> None:
    """Call `callback` whenever this replica goes from standby to active."""
    _on_resume.append(callback)


def install() -> None:
    """Follow kopf's peering verdict from now on (idempotent)."""
    kopf_seams.wrap_peering_events(_observe)
