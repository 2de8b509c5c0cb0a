"""The capability page's "Recent events and drift": the Events the API's cache keeps about one object, as rows.

Called by :mod:`platform_api.portal.pages_capability` for the page and its 2-second refresh, always with an
object the capability service has already let the viewer read (another team's capability answers 404 before
any Event is looked at). The rows come from :meth:`platform_api.cache.ReadCache.events` (the newest
:data:`platform_api.event_index.PER_OBJECT`, most recent first); ``drift`` marks the operator's ``Drift``
events (a manual change to a child, reverted), which the page highlights and sums up.
"""

from __future__ import annotations

from typing import Any

from platform_api.cache import ReadCache
from platform_api.event_index import PER_OBJECT, last_seen

__all__ = ["DRIFT", "PER_OBJECT", "rows"]

DRIFT = "Drift"  # the reason the operator's controller gives a reverted manual change (reconcile/controller.py)


def _count(event: dict[str, Any]) -> int:
    series = event.get("series") or {}
    raw = event.get("count") or series.get("count") or 1
    return raw if isinstance(raw, int) and raw > 0 else 1


def rows(cache: ReadCache, obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Type, reason, message, count and last time of each Event kept about ``obj``, newest first."""
    return [{"type": str(e.get("type") or "Normal"), "reason": str(e.get("reason") or ""),
             "message": str(e.get("message") or ""), "count": _count(e), "last": last_seen(e),
             "drift": e.get("reason") == DRIFT} for e in cache.events(obj)]
