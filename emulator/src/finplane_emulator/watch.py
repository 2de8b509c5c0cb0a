"""Watch streams: chunked JSON lines of ADDED/MODIFIED/DELETED/BOOKMARK/ERROR events.

Called by the HTTP layer for `?watch=true`. Mirrors the kube-apiserver's watch cache: no
`resourceVersion` (or "0") starts with synthetic ADDED events for what exists; a version
within the kept history replays what happened after it; an older one gets an ERROR event
carrying a 410 Expired Status ("too old resource version"), which clients answer by listing
again. `allowWatchBookmarks` adds periodic BOOKMARK events (and one just before
`timeoutSeconds` ends the stream). Fault injection can cut or stall streams.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from finplane_emulator import jsoncodec
from finplane_emulator.core import Core
from finplane_emulator.errors import bad_request, status_body
from finplane_emulator.reads import matcher
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.store import Watcher, WatchEvent

__all__ = ["BOOKMARK_SECONDS", "serve_watch"]

BOOKMARK_SECONDS = float(os.environ.get("FINPLANE_APISERVER_BOOKMARK_SECONDS", "5"))
DEFAULT_TIMEOUT = 1800.0  # the real server picks 30-60 minutes when the client gives none
_CHECK_SECONDS = 2.0  # how often an idle stream checks that its client is still there


def _line(event_type: str, obj: Any) -> bytes:
    return jsoncodec.dumps({"type": event_type, "object": obj}) + b"\n"


async def serve_watch(request: web.Request, core: Core, info: ResourceInfo, namespace: str | None, *,
                      resource_version: str, timeout: float | None, bookmarks: bool, label_selector: str,
                      field_selector: str, render: Callable[[dict[str, Any]], Any],
                      faults: Any = None) -> web.StreamResponse:
    match = matcher(label_selector, field_selector)
    res = core.store.resource(info.key)
    since: int | None = None
    if resource_version not in ("", "0"):
        try:
            since = int(resource_version)
        except ValueError:
            raise bad_request(f"resourceVersion: Invalid value: \"{resource_version}\": must be an integer") from None
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                        "Cache-Control": "no-cache, private"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    if since is not None and since < res.compacted_rv:
        gone = status_body(code=410, reason="Expired",
                           message=f"too old resource version: {since} ({res.compacted_rv + 1})")
        await response.write(_line("ERROR", gone))
        await response.write_eof()
        return response
    watcher = Watcher(namespace=namespace, matches=match)
    # No await between filling the backlog and registering: no event can slip between the two.
    if since is None:
        for obj in res.iter(namespace):
            if match(obj):
                watcher.events.append(WatchEvent(0, "ADDED", obj))
    else:
        for event in res.history:
            if event.rv > since:
                watcher.offer(event)
    res.watchers.add(watcher)
    started = time.monotonic()
    deadline = started + (timeout if timeout and timeout > 0 else DEFAULT_TIMEOUT)
    end_mark = deadline - 1.0  # like the real cache, bookmark once shortly before the deadline
    next_bookmark = min(started + BOOKMARK_SECONDS, end_mark)
    stalled = False
    try:
        while True:
            now = time.monotonic()
            cut = getattr(faults, "watch_cut_seconds", 0) if faults else 0
            if now >= deadline or (cut and now - started >= cut) or watcher.overflowed:
                break
            # A stalled stream stays silent for good, like a dead proxy: were it to resume after dropping events,
            # its next bookmark would carry the client past events it never got (a loss no real server causes).
            stalled = stalled or bool(faults and getattr(faults, "watch_stall", False))
            if watcher.events and not stalled:
                chunk = []
                while watcher.events:
                    event = watcher.events.popleft()
                    chunk.append(_line(event.type, render(event.obj)))
                await response.write(b"".join(chunk))
                continue
            if stalled:
                watcher.events.clear()
            if bookmarks and now >= next_bookmark and not stalled:
                bookmark = {"kind": info.kind, "apiVersion": info.api_version,
                            "metadata": {"resourceVersion": str(core.store.rv)}}
                await response.write(_line("BOOKMARK", bookmark))
                next_bookmark = float("inf") if now >= end_mark else min(now + BOOKMARK_SECONDS, end_mark)
                continue
            if request.transport is None or request.transport.is_closing():
                break
            wait = min(deadline, next_bookmark if bookmarks else deadline, now + _CHECK_SECONDS) - now
            if cut:
                wait = min(wait, started + cut - now)
            watcher.wakeup.clear()
            if watcher.events:
                continue
            try:
                await asyncio.wait_for(watcher.wakeup.wait(), timeout=max(0.0, wait))
            except TimeoutError:
                pass
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        res.watchers.discard(watcher)
    return response
