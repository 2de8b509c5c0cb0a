"""Sandbox extensions: one pending request at a time, within the platform's lifetime, approved as reviewed.

Called by routers/sandboxes.py. The pending request is the annotation ``finplane.io/extension-request``
(JSON: expiresAt, reason, requestedBy, requestedAt) on the TenantSandbox; it is part of the sandbox's
review tag, so a requester who swaps in another date after an admin read the request makes the admin's
approval a 412. Bounds are checked when the request is made and again when it is approved: the new
expiry lies in the future and at most ``sandbox_max_ttl_seconds`` after the sandbox's creation (the
operator's own rule). A request is withdrawn by its requester or rejected by an admin.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from finplane import API_VERSION
from platform_api.auth.identity import Identity, Role, same_subject
from platform_api.authz import require_role
from platform_api.cache import ReadCache
from platform_api.problems import Problem
from platform_api.services import sandbox_rules as rules
from platform_api.services.common import replace_annotations
from platform_api.services.sandboxes import (
    EXTENSION,
    approval_state,
    created_at,
    get,
    guarded_write,
    now,
)
from platform_api.settings import ApiSettings
from platform_api.state import Writer

__all__ = ["approve_extension", "extend", "reject_extension", "withdraw_extension"]

Obj = dict[str, Any]


def _stamp() -> str:
    return now().isoformat(timespec="seconds").replace("+00:00", "Z")


def _pending(obj: Obj) -> Obj | None:
    raw = (obj.get("metadata", {}).get("annotations") or {}).get(EXTENSION)
    if not raw:
        return None
    try:
        ask = json.loads(raw)
    except ValueError:
        return {}
    return ask if isinstance(ask, dict) else {}


def _bounds(obj: Obj, when: Any, settings: ApiSettings, *, field: str) -> None:
    expires = rules.parse_time(when)
    if expires is None:
        raise Problem(422, "expiresAt must be an RFC 3339 time with a time zone.", slug="validation",
                      reason="ValidationFailed", errors=[{"field": field, "message": "not an RFC 3339 time"}])
    errors = rules.lifetime_errors(expires_at=expires, ttl_seconds=None, created=created_at(obj), now=now(),
                                   max_ttl_seconds=settings.sandbox_max_ttl_seconds, field=field)
    if errors:
        raise Problem(422, "The new expiry is outside the platform's bounds.", slug="validation",
                      reason="LifetimeOutOfBounds", errors=errors)


async def extend(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings, name: str,
                 expires_at: str, reason: str) -> Obj:
    """Record an extension request (owner or admin); an admin other than the requester approves it.

    The write is guarded by the sandbox's resourceVersion (two racing requests cannot both be pending). The
    caller sent no precondition, so a conflict (the cache behind a rotation, the operator's status write) is
    not theirs to resolve: the cluster's copy is read and checked again (an extension pending meanwhile is 409)."""
    obj = get(identity=identity, cache=cache, name=name)
    require_role(identity, Role.PARTNER, Role.TEAM, Role.ADMIN)
    for _ in range(3):
        try:
            return await _record_extension(identity=identity, cache=cache, writer=writer, settings=settings, obj=obj,
                                           expires_at=expires_at, reason=reason)
        except Problem as problem:
            if problem.reason != "StaleVersion":
                raise
            obj = await writer.get(API_VERSION, "TenantSandbox", name)
            cache.observe(obj)
    raise Problem(409, "The sandbox keeps changing; retry.", slug="conflict", reason="Conflict")


async def _record_extension(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings, obj: Obj,
                            expires_at: str, reason: str) -> Obj:
    if approval_state(obj) != "approved":
        raise Problem(409, "The sandbox is not approved; ask for the lifetime you need in the request itself.",
                      slug="conflict", reason="NotApproved")
    if (obj.get("status") or {}).get("phase") == "Expired":
        raise Problem(409, "An expired sandbox cannot be extended.", slug="conflict", reason="Expired")
    if _pending(obj) is not None:
        raise Problem(409, "An extension request is already pending; withdraw it or wait for the decision.",
                      slug="conflict", reason="ExtensionPending")
    _bounds(obj, expires_at, settings, field="expiresAt")
    when = rules.parse_time(expires_at)
    assert when is not None  # _bounds refused anything else
    ask = {"expiresAt": when.astimezone(UTC).isoformat().replace("+00:00", "Z"), "reason": reason,
           "requestedBy": identity.subject, "requestedAt": _stamp()}
    return await replace_annotations(writer=writer, cache=cache, obj=obj, set_={EXTENSION: json.dumps(ask)})


def _require_pending(obj: Obj) -> Obj:
    ask = _pending(obj)
    if ask is None:
        raise Problem(409, "There is no pending extension request.", slug="conflict", reason="NothingPending")
    return ask


async def approve_extension(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings,
                            name: str, if_match: str | None) -> Obj:
    """Four-eyes, bound to the request the admin reviewed, and still within bounds when approved."""
    require_role(identity, Role.ADMIN)
    obj = get(identity=identity, cache=cache, name=name)

    def check(current: Obj) -> None:
        ask = _require_pending(current)
        if same_subject(identity, ask.get("requestedBy")):
            raise Problem(403, "Four-eyes rule: the requester cannot approve its own extension.", slug="forbidden",
                          reason="SelfApproval")
        _bounds(current, ask.get("expiresAt"), settings, field="extensionRequest.expiresAt")

    def change(body: Obj) -> None:
        ann = body["metadata"].setdefault("annotations", {})
        ask = json.loads(ann.pop(EXTENSION))
        body["spec"]["expiresAt"] = ask["expiresAt"]
        body["spec"].pop("ttlSeconds", None)  # an explicit date replaces the relative lifetime
        ann.update({"finplane.io/extension-approved-by": identity.subject,
                    "finplane.io/extension-approved-at": _stamp()})

    return await guarded_write(writer=writer, cache=cache, obj=obj, if_match=if_match, check=check, change=change)


async def reject_extension(*, identity: Identity, cache: ReadCache, writer: Writer, name: str,
                           if_match: str | None) -> Obj:
    """An admin refuses the pending request it reviewed; the expiry stays as it was."""
    require_role(identity, Role.ADMIN)
    obj = get(identity=identity, cache=cache, name=name)

    def check(current: Obj) -> None:
        _require_pending(current)

    def change(body: Obj) -> None:
        body["metadata"].setdefault("annotations", {}).pop(EXTENSION, None)

    return await guarded_write(writer=writer, cache=cache, obj=obj, if_match=if_match, check=check, change=change)


async def withdraw_extension(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> Obj:
    """The extension's requester takes its pending request back (so that it can ask for another date)."""
    obj = get(identity=identity, cache=cache, name=name)
    require_role(identity, Role.PARTNER, Role.TEAM, Role.ADMIN)
    ask = _require_pending(obj)
    if not same_subject(identity, ask.get("requestedBy")):
        raise Problem(403, "Only the extension's requester can withdraw it (an admin rejects it).",
                      slug="forbidden", reason="NotRequester")
    return await replace_annotations(writer=writer, cache=cache, obj=obj, set_={EXTENSION: None})
