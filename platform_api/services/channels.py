"""Channels: teams, auditors and admins read them; partners a narrowed view; only admins write them.

Called by routers/channels.py. Writes go to the cluster-scoped Channel CR. A partner sees only the
partner-facing (`open-api`) channels with a route to a capability one of its approved sandboxes may
call, and of those only such routes, without canaries (their header values select customer segments), backends, TLS secrets, the
gateway namespace or conditions that may name other routes: what it needs to call what it was granted.
"""

from __future__ import annotations

import copy
from typing import Any

from finplane import API_VERSION
from finplane.kube import errors as kerr
from platform_api.auth.identity import Identity, Role
from platform_api.authz import not_found, require_role
from platform_api.cache import CHANNEL, SANDBOX, ReadCache
from platform_api.services.common import check_if_match, stale, validate_spec
from platform_api.services.models import spec_model
from platform_api.state import Writer

__all__ = ["create", "delete", "get", "partner_view", "public", "update", "visible"]

Obj = dict[str, Any]


def public(obj: Obj) -> Obj:
    meta, spec = obj.get("metadata", {}), obj.get("spec") or {}
    return {"name": meta.get("name"), "type": spec.get("type"), "resourceVersion": meta.get("resourceVersion", ""),
            "spec": spec, "status": obj.get("status") or {}}


def _granted(identity: Identity, cache: ReadCache) -> set[tuple[str, str]]:
    """(namespace, name) of every capability the partner's approved sandboxes may call."""
    out: set[tuple[str, str]] = set()
    for sbx in cache.list(SANDBOX):
        spec = sbx.get("spec") or {}
        approval = (sbx.get("metadata", {}).get("annotations") or {}).get("finplane.io/approval", "approved")
        if (spec.get("partner") or {}).get("name") != identity.partner or approval != "approved":
            continue
        out |= {(str(c.get("namespace")), str(c.get("name"))) for c in spec.get("allowedCapabilities") or []
                if isinstance(c, dict)}
    return out


def partner_view(obj: Obj, granted: set[tuple[str, str]]) -> Obj | None:
    """The channel as a partner may see it, or None when no route reaches a capability it was granted."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if spec.get("type") != "open-api":  # the mobile app, web, branch...: the institution's own customers
        return None
    routes = [r for r in spec.get("routes") or [] if isinstance(r, dict) and isinstance(r.get("capability"), dict)
              and (str(r["capability"].get("namespace")), str(r["capability"].get("name"))) in granted]
    if not routes:
        return None
    names = {r.get("name") for r in routes}
    auth = spec.get("authentication") or {}
    view_spec = {"type": spec.get("type"), "hostnames": spec.get("hostnames") or [],
                 "authentication": {k: auth[k] for k in ("mode", "jwt") if k in auth},
                 "routes": [{k: r[k] for k in ("name", "capability", "pathPrefix", "rateLimit", "timeoutSeconds")
                             if k in r} for r in routes]}
    route_status = [{k: v for k, v in rs.items() if k in ("name", "ready", "reason", "url")}
                    for rs in status.get("routes") or [] if isinstance(rs, dict) and rs.get("name") in names]
    view = copy.deepcopy(obj)
    view["spec"] = view_spec
    view["status"] = {"routes": route_status, "urls": [rs["url"] for rs in route_status if rs.get("url")]}
    return view


def visible(*, identity: Identity, cache: ReadCache) -> list[Obj]:
    """Every channel for teams, auditors and admins; the partner view of the channels a partner may use."""
    channels = cache.list(CHANNEL)
    if identity.role is not Role.PARTNER:
        return channels
    granted = _granted(identity, cache)
    return [v for v in (partner_view(o, granted) for o in channels) if v is not None]


def get(*, cache: ReadCache, name: str, identity: Identity | None = None) -> Obj:
    obj = cache.get(CHANNEL, name)
    if obj is not None and identity is not None and identity.role is Role.PARTNER:
        obj = partner_view(obj, _granted(identity, cache))  # another channel is as absent as a missing one
    if obj is None:
        raise not_found("Channel", name)
    return obj


async def create(*, identity: Identity, cache: ReadCache, writer: Writer, name: str, spec: Obj) -> Obj:
    require_role(identity, Role.ADMIN)
    body = {"apiVersion": API_VERSION, "kind": "Channel",
            "metadata": {"name": name, "annotations": {"finplane.io/created-by": identity.subject}},
            "spec": validate_spec(spec_model("Channel"), spec)}
    created = await writer.create(body)
    cache.observe(created)
    return created


async def update(*, identity: Identity, cache: ReadCache, writer: Writer, name: str, spec: Obj,
                 if_match: str | None) -> Obj:
    require_role(identity, Role.ADMIN)
    current = get(cache=cache, name=name)
    asked = check_if_match(if_match, current)
    body = copy.deepcopy(current)
    body.pop("status", None)
    body["spec"] = validate_spec(spec_model("Channel"), spec)
    if asked is not None:
        body["metadata"]["resourceVersion"] = asked
    try:
        written = await writer.replace(body)
    except kerr.Conflict:
        raise stale(current["metadata"].get("resourceVersion", "")) from None
    cache.observe(written)
    return written


async def delete(*, identity: Identity, cache: ReadCache, writer: Writer, name: str, if_match: str | None) -> None:
    require_role(identity, Role.ADMIN)
    current = get(cache=cache, name=name)
    check_if_match(if_match, current)
    await writer.delete(API_VERSION, "Channel", name)
    cache.forget(current)
