"""A watch-fed cache of one kind: list once, then watch; the read path of the platform API.

Informer semantics as in client-go: list (paged) to fill the store and learn the collection's
resourceVersion, then watch from it with ``allowWatchBookmarks``; a ``410 Gone`` (the server's
history no longer reaches our version) triggers a relist; a dropped connection reconnects with
jittered exponential backoff. ``ready`` is set once the first list has filled the store.

Called by the platform API (:mod:`platform_api.cache`), which starts one informer per kind it
serves; subscribers get ``(event_type, object)`` for every change, relist diffs included.
Built on :mod:`finplane.kube.transport` (the gateway's connection pool, TLS and credentials) with raw paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from finplane.kube.client import KubeClient
from finplane.kube.errors import Gone, KubeError, NotFound, from_status
from finplane.kube.resources import Resource
from finplane.kube.sorted_store import SortedStore
from finplane.kube.transport import Transport

__all__ = ["Informer", "Key", "Listener", "informer_for", "key_of"]

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)
Listener = Callable[[str, Obj], Awaitable[None] | None]
log = logging.getLogger("finplane.informer")


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata", {})
    return (meta.get("namespace") or "", meta.get("name", ""))


class Informer:
    """Keeps an in-memory copy of every object of one resource, fed by a watch."""

    def __init__(self, transport: Transport, resource: Resource, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 watch_timeout: int = 300, page_size: int = 500,
                 backoff_base: float = 0.2, backoff_max: float = 30.0,
                 project: Callable[[Obj], Obj] | None = None, initial_event: str = "ADDED",
                 on_delivery: Callable[[], None] | None = None, inactivity_timeout: float | None = None) -> None:
        self._transport = transport
        # A stream that stays open but delivers nothing (not even the server's periodic bookmarks) for this
        # long is dead (a proxy keeping the connection but forwarding nothing): it is re-opened.
        self.inactivity_timeout = inactivity_timeout
        # The event type the first list's objects are told with ("LISTED" for a subscriber that must tell
        # objects that existed before it started from ones created since); later relists tell ADDED.
        self.initial_event = initial_event
        self._on_delivery = on_delivery  # every event and bookmark of the stream (a liveness heartbeat)
        # What the store keeps of each object (all of it by default). Subscribers always get the whole
        # object; a relist only needs keys and resourceVersions to tell what changed meanwhile, so a
        # subscriber that caches what it needs itself (the operator's child cache) keeps memory once.
        self._keep: Callable[[Obj], Obj] = project or (lambda obj: obj)
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector  # e.g. the platform API's Events about Finplane objects only
        self.watch_timeout = watch_timeout
        self.page_size = page_size
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.store = SortedStore()  # also kept in key order: a list route pages without sorting
        self.ready = asyncio.Event()
        # True when the API server does not serve this resource (its CRD is not installed).
        self.absent = False
        self.resource_version: str | None = None
        self.relists = 0
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    # -- reading -------------------------------------------------------------------------------
    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        return self.store.get((namespace or "", name))

    def items(self) -> list[Obj]:
        return list(self.store.values())

    def ordered(self, after: tuple[str, ...] | None = None) -> Iterator[Obj]:
        """The objects in (namespace, name) order, strictly after `after`: lazily, one page costs one page."""
        return self.store.after(after)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event_type, obj)`` on every change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def upsert(self, obj: Obj) -> None:
        """Record an object the caller just wrote, so its own next read sees it (read-your-writes).

        The watch event that follows carries the same or a newer version and overwrites it.
        """
        self.store[key_of(obj)] = obj

    def forget(self, obj: Obj) -> None:
        self.store.pop(key_of(obj), None)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"informer-{self.resource.plural}")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        """List, then watch for ever: relist on 410 Gone, back off (with jitter) on errors."""
        failures = 0
        while True:
            try:
                if self.resource_version is None:
                    await self._relist()
                await self._watch()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Gone:
                log.info("Watch of %s expired (410 Gone); relisting", self.resource.plural)
                self.resource_version = None
            except NotFound:
                # The CRD is not installed (yet): serve an empty store and look again later.
                self._mark_absent()
                await asyncio.sleep(self.backoff_max)
            except (TimeoutError, KubeError, OSError, aiohttp.ClientError, ValueError) as exc:
                failures += 1
                delay = min(self.backoff_max, self.backoff_base * 2 ** min(failures, 10))
                delay *= random.uniform(0.5, 1.0)  # full jitter so replicas do not reconnect in lockstep
                log.warning("Watch of %s failed (%s); retrying in %.1fs", self.resource.plural, exc, delay)
                await asyncio.sleep(delay)

    # -- internals -----------------------------------------------------------------------------
    def _path(self) -> str:
        return self.resource.path(namespace=self.namespace)

    async def _get(self, query: dict[str, Any], *, stream: bool) -> aiohttp.ClientResponse:
        path = f"{self._path()}?{urlencode({k: v for k, v in query.items() if v is not None})}"
        timeout = aiohttp.ClientTimeout(total=None if stream else 60, sock_connect=10,
                                        sock_read=(self.inactivity_timeout or self.watch_timeout + 30) if stream else 60)
        resp = await self._transport.send("GET", path, timeout=timeout, stream=stream)
        if resp.status >= 400:
            try:
                raw = await resp.read()
            finally:
                resp.release()
            raise from_status(resp.status, raw)
        return resp

    async def _relist(self) -> None:
        items: dict[Key, Obj] = {}
        cont: str | None = None
        while True:
            resp = await self._get({"limit": self.page_size, "continue": cont, "labelSelector": self.label_selector,
                                    "fieldSelector": self.field_selector}, stream=False)
            try:
                page = orjson.loads(await resp.read())
            finally:
                resp.release()
            for item in page.get("items", []):
                item.setdefault("apiVersion", self.resource.api_version)
                item.setdefault("kind", self.resource.kind)
                items[key_of(item)] = item
            meta = page.get("metadata", {})
            cont = meta.get("continue")
            if not cont:
                version = meta.get("resourceVersion")
                break
        old, self.store = self.store, SortedStore((k, self._keep(o)) for k, o in items.items())
        self.resource_version = version
        self.absent = False
        self.relists += 1
        # Tell subscribers what changed while we were not watching.
        added = self.initial_event if self.relists == 1 else "ADDED"
        for k, obj in items.items():
            prev = old.get(k)
            if prev is None:
                await self._emit(added, obj)
            elif prev.get("metadata", {}).get("resourceVersion") != obj.get("metadata", {}).get("resourceVersion"):
                await self._emit("MODIFIED", obj)
        for k, obj in old.items():
            if k not in items:
                await self._emit("DELETED", obj)
        self.ready.set()

    async def _watch(self) -> None:
        resp = await self._get({"watch": "true", "resourceVersion": self.resource_version,
                                "allowWatchBookmarks": "true", "timeoutSeconds": self.watch_timeout,
                                "labelSelector": self.label_selector, "fieldSelector": self.field_selector},
                               stream=True)
        try:
            async for raw in resp.content:
                line = raw.strip()
                if line:
                    await self._handle(orjson.loads(line))
        finally:
            resp.release()

    async def _handle(self, event: Obj) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if self._on_delivery is not None:
            self._on_delivery()
        if kind == "ERROR":
            code = int(obj.get("code") or 0)
            raise from_status(code or 500, json.dumps(obj))
        version = obj.get("metadata", {}).get("resourceVersion")
        if version:
            self.resource_version = version
        if kind == "BOOKMARK":
            return
        obj.setdefault("apiVersion", self.resource.api_version)
        obj.setdefault("kind", self.resource.kind)
        if kind == "DELETED":
            self.store.pop(key_of(obj), None)
        elif kind in ("ADDED", "MODIFIED"):
            self.store[key_of(obj)] = self._keep(obj)
        else:
            return
        await self._emit(str(kind), obj)

    def _mark_absent(self) -> None:
        if not self.absent:
            log.info("%s is not served by the API server; its cache stays empty", self.resource.plural)
        self.absent = True
        self.resource_version = None
        self.store = SortedStore()
        self.ready.set()

    async def _emit(self, event_type: str, obj: Obj) -> None:
        for listener in list(self._listeners):
            try:
                result = listener(event_type, obj)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # a faulty subscriber must not stop the cache
                log.exception("Informer listener failed on %s", event_type)


def informer_for(kube: KubeClient, resource: Resource, **kwargs: Any) -> Informer:
    """An informer sharing a :class:`finplane.kube.client.KubeClient` gateway's connection pool."""
    return Informer(kube.transport, resource, **kwargs)
