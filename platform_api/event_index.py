"""The Kubernetes Events about Finplane's objects, newest first per object and bounded: what the portal shows.

:mod:`platform_api.cache` feeds one :class:`EventIndex` (the real cache from an events informer selected on
:data:`FIELD_SELECTOR`, the in-memory double from what a test observes) and reads it back with
:meth:`EventIndex.for_object`, which the capability page calls only after the capability service has let the
viewer read that capability. Only Events whose ``involvedObject`` is a Finplane kind are kept (the operator's
Drift, condition and teardown events, and any other component's about Finplane objects), and of those at
most :data:`PER_OBJECT` per involved object, the most recently seen: :meth:`EventIndex.observe` returns the
keys it dropped so that the informer's own store drops them too. The API's memory for Events is thus bounded
by the number of Finplane objects, however chatty the cluster.
"""

from __future__ import annotations

from typing import Any

from finplane import API_VERSION

__all__ = ["FIELD_SELECTOR", "PER_OBJECT", "EventIndex", "EventKey", "Involved", "last_seen"]

Obj = dict[str, Any]
Involved = tuple[str, str, str]  # (kind, namespace or "", name) of the object an Event is about
EventKey = tuple[str, str]  # (namespace, name) of the Event itself: the informer's store key

#: What the API server sends the events informer: Events about a Finplane kind, nothing about Pods or nodes.
FIELD_SELECTOR = f"involvedObject.apiVersion={API_VERSION}"
#: Events kept per involved object (the most recently seen; a repeated Event counts once, with its count).
PER_OBJECT = 20


def last_seen(event: Obj) -> str:
    """When the Event was last seen (RFC 3339): core/v1 ``lastTimestamp``, else the events.k8s.io fields."""
    series = event.get("series") or {}
    return str(event.get("lastTimestamp") or series.get("lastObservedTime") or event.get("eventTime")
               or event.get("firstTimestamp") or (event.get("metadata") or {}).get("creationTimestamp") or "")


def _key(event: Obj) -> EventKey:
    meta = event.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _involved(event: Obj) -> Involved | None:
    """The Finplane object the Event is about, or None when it is about anything else."""
    about = event.get("involvedObject") or {}
    if not isinstance(about, dict) or about.get("apiVersion") != API_VERSION or not about.get("name"):
        return None
    return (str(about.get("kind") or ""), str(about.get("namespace") or ""), str(about["name"]))


class EventIndex:
    """Events by the Finplane object they are about, at most ``per_object`` each."""

    def __init__(self, *, per_object: int = PER_OBJECT) -> None:
        self.per_object = per_object
        self._by: dict[Involved, dict[EventKey, Obj]] = {}
        self._where: dict[EventKey, Involved] = {}

    def __len__(self) -> int:
        return len(self._where)

    def observe(self, event: Obj) -> list[EventKey]:
        """Keep (or replace) ``event``; returns the keys no longer kept (this one, when it is not kept)."""
        key, about = _key(event), _involved(event)
        if about is None:
            self.forget(event)
            return [key]
        if self._where.get(key, about) != about:
            self.forget(event)
        kept = self._by.setdefault(about, {})
        kept[key] = event
        self._where[key] = about
        if len(kept) <= self.per_object:
            return []
        dropped = sorted(kept, key=lambda k: (last_seen(kept[k]), k))[:len(kept) - self.per_object]
        for k in dropped:
            del kept[k]
            del self._where[k]
        return dropped

    def forget(self, event: Obj) -> None:
        key = _key(event)
        about = self._where.pop(key, None)
        if about is not None:
            kept = self._by[about]
            kept.pop(key, None)
            if not kept:
                del self._by[about]

    def for_object(self, obj: Obj) -> list[Obj]:
        """The Events kept about ``obj``, the most recently seen first.

        An Event that names another uid was about an earlier object of the same name (deleted, then
        created again): it is not this object's.
        """
        meta = obj.get("metadata") or {}
        about = (str(obj.get("kind") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        uid = meta.get("uid")
        events = [e for e in (self._by.get(about) or {}).values()
                  if not uid or not (e.get("involvedObject") or {}).get("uid")
                  or (e.get("involvedObject") or {}).get("uid") == uid]
        return sorted(events, key=last_seen, reverse=True)
