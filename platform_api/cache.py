"""The read side of the API: the kinds it serves, each from a watch-fed informer cache.

Every read of a route comes from here, never from the API server (listing 10,000 capabilities
costs no API call). :class:`ReadCache` is the seam: :class:`InformerCache` is the real one
(built by :mod:`platform_api.app` at startup), tests pass an in-memory double with the same methods.
Both keep each kind's objects in (namespace, name) order as well (:class:`finplane.kube.sorted_store.SortedStore`),
so ``ordered(kind, after=cursor_key)`` serves a list route's page without sorting or keying every object.
Kubernetes Events about Finplane objects are kept apart, bounded per object (:mod:`platform_api.event_index`),
and read with ``events(obj)``; they are best effort, so the real cache is ready without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from finplane import API_VERSION
from finplane.kube.sorted_store import SortedStore
from platform_api.event_index import FIELD_SELECTOR, EventIndex

__all__ = ["CAPABILITY", "CHANNEL", "CLUSTER_POLICY_REPORT", "EVENT", "KINDS", "POLICY", "POLICY_REPORT", "SANDBOX",
           "TEAM", "WAIVER_REQUEST", "WAIVER_REQUEST_LABEL", "InformerCache", "Kind", "MemoryCache", "ReadCache"]

Obj = dict[str, Any]
Kind = tuple[str, str]  # (apiVersion, kind)
Events = list[Obj]  # (inside the classes `list` is their method)

CAPABILITY: Kind = (API_VERSION, "BusinessCapability")
CHANNEL: Kind = (API_VERSION, "Channel")
SANDBOX: Kind = (API_VERSION, "TenantSandbox")
POLICY: Kind = (API_VERSION, "CompliancePolicy")
POLICY_REPORT: Kind = ("wgpolicyk8s.io/v1alpha2", "PolicyReport")
CLUSTER_POLICY_REPORT: Kind = ("wgpolicyk8s.io/v1alpha2", "ClusterPolicyReport")
TEAM: Kind = (API_VERSION, "Team")
KINDS: tuple[Kind, ...] = (CAPABILITY, CHANNEL, SANDBOX, POLICY, POLICY_REPORT, CLUSTER_POLICY_REPORT, TEAM)
#: Pending waiver requests: one ConfigMap each, labelled, in the API's own namespace (services/waiver_store.py).
WAIVER_REQUEST: Kind = ("v1", "ConfigMap")
WAIVER_REQUEST_LABEL = "finplane.io/waiver-request"
#: Events about Finplane objects (core/v1), field-selected by the API server and bounded per object.
EVENT: Kind = ("v1", "Event")


class ReadCache(Protocol):
    """What routes read: objects by kind, and whether the cache has synced."""

    def list(self, kind: Kind) -> list[Obj]: ...
    def count(self, kind: Kind) -> int: ...
    def ordered(self, kind: Kind, after: tuple[str, ...] | None = None) -> Iterator[Obj]: ...
    def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj | None: ...
    def observe(self, obj: Obj) -> None: ...
    def forget(self, obj: Obj) -> None: ...
    def events(self, obj: Obj) -> Events: ...
    @property
    def ready(self) -> bool: ...


def _key(name: str, namespace: str | None) -> tuple[str, str]:
    return (namespace or "", name)


class MemoryCache:
    """An in-memory :class:`ReadCache` (the double for fast tests; also what a relist builds)."""

    def __init__(self, objects: list[Obj] | None = None, *, ready: bool = True) -> None:
        self._data: dict[Kind, SortedStore] = {k: SortedStore() for k in KINDS}
        self._events = EventIndex()
        self._ready = ready
        for obj in objects or []:
            self.observe(obj)

    @property
    def ready(self) -> bool:
        return self._ready

    def list(self, kind: Kind) -> list[Obj]:
        store = self._data.get(kind)
        return list(store.values()) if store is not None else []

    def count(self, kind: Kind) -> int:
        store = self._data.get(kind)
        return len(store) if store is not None else 0

    def ordered(self, kind: Kind, after: tuple[str, ...] | None = None) -> Iterator[Obj]:
        store = self._data.get(kind)
        return store.after(after) if store is not None else iter(())

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj | None:
        store = self._data.get(kind)
        return store.get(_key(name, namespace)) if store is not None else None

    def events(self, obj: Obj) -> Events:
        return self._events.for_object(obj)

    def observe(self, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        kind = (obj["apiVersion"], obj["kind"])
        if kind == EVENT:
            self._events.observe(obj)
            return
        self._data.setdefault(kind, SortedStore())[_key(meta["name"], meta.get("namespace"))] = obj

    def forget(self, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        if (obj["apiVersion"], obj["kind"]) == EVENT:
            self._events.forget(obj)
            return
        store = self._data.get((obj["apiVersion"], obj["kind"]))
        if store is not None:
            store.pop(_key(meta["name"], meta.get("namespace")), None)


class InformerCache:
    """One :class:`finplane.kube.informer.Informer` per served kind, sharing the gateway's pool."""

    def __init__(self, kube: Any, *, watch_timeout: int = 300, waiver_namespace: str | None = None) -> None:
        from finplane.kube.informer import informer_for
        from finplane.kube.resources import resource_for

        self.informers = {k: informer_for(kube, resource_for(*k), watch_timeout=watch_timeout) for k in KINDS}
        if waiver_namespace is not None:
            # Only the API's own namespace and only labelled ConfigMaps: never every ConfigMap of the cluster.
            self.informers[WAIVER_REQUEST] = informer_for(
                kube, resource_for(*WAIVER_REQUEST), namespace=waiver_namespace,
                label_selector=f"{WAIVER_REQUEST_LABEL}=true", watch_timeout=watch_timeout)
        # Events: every namespace, only those about Finplane kinds, at most PER_OBJECT each; not in `informers`,
        # so a cluster that denies the API events leaves it ready (and the pages without events).
        self._events = EventIndex()
        self.event_informer = informer_for(kube, resource_for(*EVENT), field_selector=FIELD_SELECTOR,
                                           watch_timeout=watch_timeout)
        self.event_informer.subscribe(self._on_event)

    def _on_event(self, event_type: str, event: Obj) -> None:
        if event_type == "DELETED":
            self._events.forget(event)
            return
        for key in self._events.observe(event):  # beyond the bound (or not about Finplane): not kept at all
            self.event_informer.store.pop(key, None)

    def start(self) -> None:
        for informer in self.informers.values():
            informer.start()
        self.event_informer.start()

    async def stop(self) -> None:
        for informer in self.informers.values():
            await informer.stop()
        await self.event_informer.stop()

    @property
    def ready(self) -> bool:
        return all(i.ready.is_set() for i in self.informers.values())

    def list(self, kind: Kind) -> list[Obj]:
        informer = self.informers.get(kind)
        return informer.items() if informer is not None else []

    def count(self, kind: Kind) -> int:
        informer = self.informers.get(kind)
        return len(informer.store) if informer is not None else 0

    def ordered(self, kind: Kind, after: tuple[str, ...] | None = None) -> Iterator[Obj]:
        informer = self.informers.get(kind)
        return informer.ordered(after) if informer is not None else iter(())

    def events(self, obj: Obj) -> Events:
        return self._events.for_object(obj)

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> Obj | None:
        informer = self.informers.get(kind)
        return informer.get(name, namespace) if informer is not None else None

    def observe(self, obj: Obj) -> None:
        informer = self.informers.get((obj["apiVersion"], obj["kind"]))
        if informer is not None:
            informer.upsert(obj)

    def forget(self, obj: Obj) -> None:
        informer = self.informers.get((obj["apiVersion"], obj["kind"]))
        if informer is not None:
            informer.forget(obj)

