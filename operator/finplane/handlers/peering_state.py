"""Know whether this replica is paused by kopf peering, so Finplane's own workers pause too.

kopf pauses a replica when a peer with a higher priority is alive, but it pauses only the watch
streams: work already queued in Finplane's queues, retries and the drift timer would still run and
reconcile beside the active replica. kopf keeps the decision in a private toggle that it hands to
`process_peering_event` on every peering event; wrapping that function (kopf is pinned in
requirements.lock; `install()` fails loudly if the seam moves) lets us read it.
Installed by `handlers.main` before `kopf.run`; read through `Runtime.is_paused`.
"""

from __future__ import annotations

import logging
from typing import Any

from kopf._core.engines import peering  # private seam: see the module docstring

__all__ = ["install", "paused"]

log = logging.getLogger("finplane.peering")
_state = {"paused": False}


def paused() -> bool:
    return _state["paused"]


def install() -> None:
    original = getattr(peering, "process_peering_event", None)
    if original is None:
        raise RuntimeError("kopf._core.engines.peering.process_peering_event is gone: update "
                           "finplane.handlers.peering_state")
    if getattr(original, "_finplane_wrapped", False):
        return

    async def process_peering_event(**kwargs: Any) -> None:
        await original(**kwargs)
        toggle = kwargs.get("conflicts_found")
        if toggle is not None and toggle.is_on() != _state["paused"]:
            _state["paused"] = toggle.is_on()
            log.info("This replica is %s", "standby: reconciles paused" if _state["paused"] else "active again")

    process_peering_event._finplane_wrapped = True  # type: ignore[attr-defined]
    peering.process_peering_event = process_peering_event
