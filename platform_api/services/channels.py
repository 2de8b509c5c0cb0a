"""Channels: every authenticated caller reads them; only admins create, change or delete them.

Called by routers/channels.py. Writes go to the cluster-scoped Channel CR.
"""

from __future__ import annotations

import copy
from typing import Any

from finplane import API_VERSION
from finplane.kube import errors as kerr
from platform_api.auth.identity import Identity, Role
from platform_api.authz import not_found, require_role
from platform_api.cache import CHANNEL, ReadCache
from platform_api.services.common import check_if_match, stale, validate_spec
from platform_api.services.models import spec_model
from platform_api.state import Writer

__all__ = ["create", "delete", "get", "public", "update"]

Obj = dict[str, Any]


def public(obj: Obj) -> Obj:
    meta, spec = obj.get("metadata", {}), obj.get("spec") or {}
    return {"name": meta.get("name"), "type": spec.get("type"), "resourceVersion": meta.get("resourceVersion", ""),
            "spec": spec, "status": obj.get("status") or {}}


def get(*, cache: ReadCache, name: str) -> Obj:
    obj = cache.get(CHANNEL, name)
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
