"""Every place Finplane reaches into kopf's private modules (`kopf._…`): two wrappers, nothing else.

kopf's public API does not say when a replica is paused by peering, nor when a watch stream last
delivered something. Finplane needs both (`handlers.peering_state`: pause our own queues with the
watch streams; `handlers.watch_health`: fail liveness when every stream stalled), so it wraps two
private functions, looked up through their modules at call time by kopf itself:

- `kopf._core.engines.peering.process_peering_event(*, ..., conflicts_found: Toggle | None, ...)`,
  bound by `kopf._core.reactor.orchestration` with `functools.partial(peering.process_peering_event, ...)`;
  the `conflicts_found` toggle is on while a higher-priority peer is alive (this replica is paused).
- `kopf._cogs.clients.watching.watch_objs(*, settings, resource, namespace, since, operator_pause_waiter)`,
  an async generator called by name from `continuous_watch` for every stream (events and bookmarks).

kopf is pinned in requirements.lock; `tests/unit/test_kopf_seams.py` pins these signatures and call
sites, so an upgrade that moves them fails a test instead of silently disabling the wrapper, and each
wrapper raises at start-up if its function is gone. Called once each by `handlers.main` (through
`peering_state.install` and `watch_health.install`) before `kopf.run`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from kopf._cogs.clients import watching
from kopf._core.engines import peering

__all__ = ["wrap_peering_events", "wrap_watch_streams"]

_MARK = "_finplane_wrapped"


def _original(module: Any, name: str) -> Any | None:
    """The function to wrap, or None when it is wrapped already; RuntimeError when kopf no longer has it."""
    original = getattr(module, name, None)
    if original is None:
        raise RuntimeError(f"{module.__name__}.{name} is gone: update finplane.handlers.kopf_seams")
    return None if getattr(original, _MARK, False) else original


def wrap_peering_events(on_paused: Callable[[bool], None]) -> None:
    """After every peering event kopf processes, call `on_paused(paused)` with kopf's own verdict.

    `paused` is True while kopf's conflicts toggle is on (a peer with a higher priority is alive).
    Wrapping twice is a no-op: the first callback stays.
    """
    original = _original(peering, "process_peering_event")
    if original is None:
        return

    async def process_peering_event(**kwargs: Any) -> None:
        await original(**kwargs)
        toggle = kwargs.get("conflicts_found")
        if toggle is not None:
            on_paused(bool(toggle.is_on()))

    setattr(process_peering_event, _MARK, True)
    peering.process_peering_event = process_peering_event


def wrap_watch_streams(on_delivery: Callable[[], None]) -> None:
    """Call `on_delivery()` for every raw event or bookmark any kopf watch stream yields.

    Wrapping twice is a no-op: the first callback stays.
    """
    original = _original(watching, "watch_objs")
    if original is None:
        return

    async def watch_objs(**kwargs: Any) -> AsyncIterator[Any]:
        async for raw in original(**kwargs):
            on_delivery()
            yield raw

    setattr(watch_objs, _MARK, True)
    watching.watch_objs = watch_objs
