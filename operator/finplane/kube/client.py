"""The async Kubernetes gateway: the one read and write path of the operator and the platform API.

Built on `finplane.kube.transport` (aiohttp with the kubeconfig's TLS and credentials,
`finplane.kube.kubeconfig`) with raw resource paths from `finplane.kube.resources`, so any kind works
without generated classes and without discovery. Writes to children go through `apply` (server-side apply under one field
manager); status goes through `patch_status`. Errors become `finplane.kube.errors`.
`KubeClient` implements the `finplane.kube.protocol.Kube` Protocol; type collaborators against that.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
import orjson

from finplane import FIELD_MANAGER, __version__
from finplane.kube import protocol
from finplane.kube.errors import KubeError, NotFound, from_status
from finplane.kube.kubeconfig import load as load_connection
from finplane.kube.resources import Resource, resource_for
from finplane.kube.transport import Transport
from finplane.metrics import API_RETRIES

__all__ = ["USER_AGENT", "Kube", "KubeClient"]

USER_AGENT = f"finplane-operator/{__version__}"
Obj = dict[str, Any]


class KubeClient:
    """One connection pool to one API server. Create with `await KubeClient.from_config()`."""

    def __init__(self, transport: Transport, *, field_manager: str = FIELD_MANAGER,
                 retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0)) -> None:
        self.transport = transport
        self.retry_delays = retry_delays
        self.field_manager = field_manager

    @classmethod
    async def from_config(cls, *, kubeconfig: str | None = None, field_manager: str = FIELD_MANAGER,
                          user_agent: str = USER_AGENT) -> KubeClient:
        """Load `kubeconfig`, else KUBECONFIG or ~/.kube/config, else the in-cluster service account.

        Raises `finplane.kube.kubeconfig.KubeconfigError` with what to fix when none can be used.
        """
        connection = await load_connection(kubeconfig)
        return cls(Transport(connection, user_agent=user_agent), field_manager=field_manager)

    @property
    def user_agent(self) -> str:
        return self.transport.user_agent

    @user_agent.setter
    def user_agent(self, value: str) -> None:  # tells API-server statistics (and audit) who wrote what
        self.transport.user_agent = value

    async def close(self) -> None:
        await self.transport.close()

    async def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json") -> Obj:
        """One HTTP call, retried a few times on throttling and server trouble; returns the JSON or raises.

        A transient 429/5xx on one of a reconcile's ten-odd requests would otherwise fail the whole pass
        and push the object into the queue's growing backoff (at 20 % failures, most passes fail).
        Retries here are short (`retry_delays`, jittered; a 429's Retry-After is honoured); a 500 on a
        create is not retried (the object may exist); a 409 is retried only on a forced apply (no
        precondition to go stale). What still fails goes to the queue's backoff.
        """
        for delay in (*self.retry_delays, None):
            try:
                return await self._request_once(method, path, query=query, body=body, content_type=content_type)
            except KubeError as exc:
                # A forced server-side apply carries no precondition, so a 409 on it is transient: send it again.
                forced_apply = exc.status == 409 and content_type == "application/apply-patch+yaml"
                if delay is None or not (exc.retryable or forced_apply) or (exc.status == 500 and method.upper() == "POST"):
                    raise
                API_RETRIES.labels(str(exc.status)).inc()
                wait = max(delay * (0.5 + random.random()), exc.retry_after or 0.0)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _request_once(self, method: str, path: str, *, query: Mapping[str, Any] | None,
                            body: Any, content_type: str) -> Obj:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        if q:
            path = f"{path}?{urlencode(q)}"
        try:
            status, raw, retry_after = await self.transport.call(method, path, body=body, content_type=content_type)
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:  # refused, reset, timed out: retryable
            raise KubeError(f"cannot reach the API server: {exc or type(exc).__name__}", status=0) from None
        if status >= 400:
            err = _locate_error(from_status(status, raw), method, path)
            err.retry_after = _seconds(retry_after)
            raise err
        return orjson.loads(raw) if raw else {}

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj:
        res = resource_for(api_version, kind)
        return await self.request("GET", res.path(namespace=namespace, name=name))

    async def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.get(api_version, kind, name, namespace)
        except NotFound:
            return None

    async def list(self, api_version: str, kind: str, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None) -> list[Obj]:
        """Every object of a kind (all pages), optionally filtered by selectors."""
        res = resource_for(api_version, kind)
        items: list[Obj] = []
        cont: str | None = None
        while True:
            page = await self.request("GET", res.path(namespace=namespace), query={
                "labelSelector": label_selector, "fieldSelector": field_selector,
                "limit": 500, "continue": cont})
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            cont = page.get("metadata", {}).get("continue")
            if not cont:
                return items

    # -- writes --------------------------------------------------------------------------------
    async def apply(self, body: Obj, *, force: bool = True, dry_run: bool = False,
                    field_manager: str | None = None) -> Obj:
        """Server-side apply `body` under this gateway's field manager, or `field_manager` (creates when absent)."""
        res, ns, name = self._locate(body)
        return await self.request(
            "PATCH", res.path(namespace=ns, name=name),
            query={"fieldManager": field_manager or self.field_manager, "force": "true" if force else None,
                   "dryRun": "All" if dry_run else None},
            body=body, content_type="application/apply-patch+yaml")

    async def create(self, body: Obj) -> Obj:
        res, ns, _ = self._locate(body, need_name=False)
        return await self.request("POST", res.path(namespace=ns), query={"fieldManager": self.field_manager},
                                  body=body)

    async def replace(self, body: Obj) -> Obj:
        """PUT; a stale metadata.resourceVersion raises `Conflict`."""
        res, ns, name = self._locate(body)
        return await self.request("PUT", res.path(namespace=ns, name=name),
                                  query={"fieldManager": self.field_manager}, body=body)

    async def patch_merge(self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None,
                          *, subresource: str | None = None, field_manager: str | None = None) -> Obj:
        """Merge-patch under this gateway's field manager, or `field_manager` for a concern that owns other fields."""
        res = resource_for(api_version, kind)
        return await self.request("PATCH", res.path(namespace=namespace, name=name, subresource=subresource),
                                  query={"fieldManager": field_manager or self.field_manager}, body=patch,
                                  content_type="application/merge-patch+json")

    async def patch_status(self, api_version: str, kind: str, name: str, status: Obj,
                           namespace: str | None = None) -> Obj:
        """Merge-patch the status subresource (conditions are replaced as a whole list)."""
        return await self.patch_merge(api_version, kind, name, {"status": status}, namespace,
                                      subresource="status")

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
                     propagation: str = "Background", missing_ok: bool = True) -> None:
        res = resource_for(api_version, kind)
        try:
            await self.request("DELETE", res.path(namespace=namespace, name=name),
                               body={"kind": "DeleteOptions", "apiVersion": "v1",
                                     "propagationPolicy": propagation})
        except NotFound:
            if not missing_ok:
                raise

    @staticmethod
    def _locate(body: Obj, *, need_name: bool = True) -> tuple[Resource, str | None, str | None]:
        meta = body.get("metadata", {})
        res = resource_for(body["apiVersion"], body["kind"])
        name = meta.get("name")
        if need_name and not name:
            raise ValueError(f"{body['kind']} without metadata.name")
        return res, (meta.get("namespace") if res.namespaced else None), name


# The client's old name, kept while callers still construct it as `Kube.from_config()` (the operator's
# entry point, `finplane dev`, the platform API) or annotate with it; new code types against
# `finplane.kube.protocol.Kube`.
Kube = KubeClient

if TYPE_CHECKING:  # mypy proves here that the client satisfies the Protocol
    _implements: type[protocol.Kube] = KubeClient

_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def _locate_error(err: KubeError, method: str, path: str) -> KubeError:
    """Say which request failed (verb, resource.group, namespace): a 403 condition must name what RBAC lacks."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    group, rest = ("", parts[2:]) if parts[:1] == ["api"] else ((parts[1] if len(parts) > 1 else ""), parts[3:])
    if len(rest) >= 3 and rest[0] == "namespaces":
        err.namespace, rest = rest[1], rest[2:]
    if rest:
        err.resource = rest[0] + (f".{group}" if group else "") + (f"/{rest[2]}" if len(rest) > 2 else "")
        err.verb = _VERBS.get(method.upper(), method.lower())
        if err.verb == "get" and len(rest) == 1:
            err.verb = "list"
    return err


def _seconds(value: str | None) -> float | None:
    try:
        return min(float(value), 30.0) if value else None
    except ValueError:
        return None
