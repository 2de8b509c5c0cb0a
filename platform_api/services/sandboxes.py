"""Partner sandboxes: request, four-eyes approval, the credential shown once, extension, rotation.

Called by routers/sandboxes.py. State lives on the TenantSandbox CR itself (annotations), so
every API replica agrees and the operator can honour it:

- ``finplane.io/approval``: ``pending`` | ``approved`` | ``rejected``. The operator provisions
  nothing while it is not ``approved`` (a CR created with kubectl, without the annotation, is
  the platform engineer's own decision and is provisioned as before).
- ``finplane.io/requested-by``, ``finplane.io/decided-by``: the two identities (never equal).
- ``finplane.io/credential-shown``: the fingerprint of the credential already handed out; the
  partner's first read after provisioning (or after a rotation) returns the key and sets it,
  under the CR's resourceVersion so that two racing reads cannot both receive the key.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from datetime import UTC, datetime
from typing import Any

from finplane import API_VERSION, SANDBOX_CREDENTIAL_KEY, SANDBOX_CREDENTIAL_SECRET
from finplane.kube import errors as kerr
from platform_api.auth.identity import Identity, Role, same_subject
from platform_api.authz import may_see_sandbox, not_found, require_role
from platform_api.cache import SANDBOX, ReadCache
from platform_api.problems import Problem
from platform_api.services.common import replace_annotations, validate_spec
from platform_api.services.models import spec_model
from platform_api.state import Writer

__all__ = ["APPROVAL", "CREDENTIAL_SHOWN", "REQUESTED_BY", "approve", "approve_extension", "delete", "extend", "get", "list_visible",
           "public", "read_with_credential", "request", "rotate"]

Obj = dict[str, Any]
APPROVAL = "finplane.io/approval"
REQUESTED_BY = "finplane.io/requested-by"
DECIDED_BY = "finplane.io/decided-by"
DECISION_COMMENT = "finplane.io/decision-comment"
TERMS = "finplane.io/terms-accepted-at"
CREDENTIAL_SHOWN = "finplane.io/credential-shown"
EXTENSION = "finplane.io/extension-request"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ann(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def approval_state(obj: Obj) -> str:
    return _ann(obj).get(APPROVAL, "approved")  # created outside the API: the platform engineer decided


def _marker(obj: Obj) -> str | None:
    """What identifies the current credential: the status fingerprint (or hash) with its rotation."""
    status = obj.get("status") or {}
    if not status.get("credentialSecretRef"):
        return None
    print_ = status.get("credentialFingerprint") or status.get("credentialHash") or "provisioned"
    return f"{status.get('credentialRotation', 0)}:{print_}"


def public(obj: Obj, *, credential_value: str | None = None) -> Obj:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec") or {}, obj.get("status") or {}
    ann = _ann(obj)
    marker = _marker(obj)
    credential = None
    if marker is not None:
        credential = {"fingerprint": status.get("credentialFingerprint"), "value": credential_value,
                      "shown": credential_value is not None or ann.get(CREDENTIAL_SHOWN) == marker}
    extension = None
    if ann.get(EXTENSION):
        try:
            extension = json.loads(ann[EXTENSION])
        except ValueError:
            extension = None
    return {"name": meta.get("name"), "partner": (spec.get("partner") or {}).get("name"),
            "approval": approval_state(obj), "requestedBy": ann.get(REQUESTED_BY), "decidedBy": ann.get(DECIDED_BY),
            "phase": status.get("phase"), "namespace": status.get("namespace"),
            "expiresAt": status.get("expiresAt") or spec.get("expiresAt"),
            "resourceVersion": meta.get("resourceVersion", ""), "spec": spec,
            "conditions": status.get("conditions") or [], "credential": credential, "extensionRequest": extension}


def list_visible(*, identity: Identity, cache: ReadCache) -> list[Obj]:
    return [o for o in cache.list(SANDBOX) if may_see_sandbox(identity, o)]


def get(*, identity: Identity, cache: ReadCache, name: str) -> Obj:
    obj = cache.get(SANDBOX, name)
    if obj is None or not may_see_sandbox(identity, obj):
        raise not_found("Sandbox", name)
    return obj


async def request(*, identity: Identity, cache: ReadCache, writer: Writer, name: str, spec: Obj,
                  terms_accepted: bool) -> Obj:
    require_role(identity, Role.PARTNER, Role.TEAM, Role.ADMIN)
    if not terms_accepted:
        raise Problem(422, "The sandbox terms must be accepted.", slug="validation", reason="TermsNotAccepted",
                      errors=[{"field": "termsAccepted", "message": "must be true"}])
    spec = copy.deepcopy(spec)
    if identity.role is Role.PARTNER:
        partner = spec.setdefault("partner", {})
        if not isinstance(partner, dict):
            raise Problem(422, "spec.partner must be an object.", slug="validation", reason="ValidationFailed",
                          errors=[{"field": "spec.partner", "message": "must be an object"}])
        partner.setdefault("name", identity.partner)
        if partner["name"] != identity.partner:
            # Not a 404: the caller named itself wrongly, nothing about others is revealed.
            raise Problem(422, "A partner can request sandboxes only for itself.", slug="validation",
                          reason="ValidationFailed",
                          errors=[{"field": "spec.partner.name", "message": f"must be {identity.partner!r}"}])
    validate_spec(spec_model("TenantSandbox"), spec)
    body = {"apiVersion": API_VERSION, "kind": "TenantSandbox",
            "metadata": {"name": name, "labels": {"finplane.io/partner": str((spec.get("partner") or {}).get("name"))},
                         "annotations": {APPROVAL: "pending", REQUESTED_BY: identity.subject, TERMS: _now()}},
            "spec": spec}
    created = await writer.create(body)
    cache.observe(created)
    return created


async def approve(*, identity: Identity, cache: ReadCache, writer: Writer, name: str, approved: bool,
                  comment: str | None) -> Obj:
    """Four-eyes: an admin who is not the requester decides a pending request once."""
    require_role(identity, Role.ADMIN)
    obj = get(identity=identity, cache=cache, name=name)
    if approval_state(obj) != "pending":
        raise Problem(409, f"The request was already decided ({approval_state(obj)}).", slug="conflict",
                      reason="AlreadyDecided")
    if same_subject(identity, _ann(obj).get(REQUESTED_BY)):
        raise Problem(403, "Four-eyes rule: the requester cannot approve or reject its own request.",
                      slug="forbidden", reason="SelfApproval")
    return await replace_annotations(writer=writer, cache=cache, obj=obj, set_={
        APPROVAL: "approved" if approved else "rejected", DECIDED_BY: identity.subject,
        "finplane.io/decided-at": _now(), DECISION_COMMENT: comment})


async def read_with_credential(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> Obj:
    """The sandbox; for its owner, the credential exactly once after it is provisioned or rotated."""
    obj = get(identity=identity, cache=cache, name=name)
    owner = (identity.role is Role.PARTNER) or (_ann(obj).get(REQUESTED_BY) == identity.subject
                                                 and identity.role is not Role.AUDITOR)
    marker = _marker(obj)
    if not owner or marker is None or _ann(obj).get(CREDENTIAL_SHOWN) == marker:
        return public(obj)
    for _ in range(3):
        # Read the key before marking it shown: a failed read must not lose the only showing.
        value = await _read_key(writer=writer, obj=obj)
        try:
            written = await replace_annotations(writer=writer, cache=cache, obj=obj, set_={CREDENTIAL_SHOWN: marker})
        except Problem:
            # Stale cache or a racing write: look at the cluster's copy before deciding.
            obj = await writer.get(API_VERSION, "TenantSandbox", name)
            cache.observe(obj)
            marker = _marker(obj) or marker
            if _ann(obj).get(CREDENTIAL_SHOWN) == marker:
                return public(obj)  # a racing read received it
            continue
        return public(written, credential_value=value)
    raise Problem(409, "The sandbox keeps changing; retry.", slug="conflict", reason="Conflict")


async def _read_key(*, writer: Writer, obj: Obj) -> str:
    # Only the status' namespace is taken from the object: the Secret's name and key are the contract with the
    # operator (the chart's RBAC lets the API read Secrets of this one name, nothing else).
    ref = (obj.get("status") or {}).get("credentialSecretRef") or {}
    try:
        secret = await writer.get("v1", "Secret", SANDBOX_CREDENTIAL_SECRET, ref.get("namespace"))
    except kerr.NotFound:
        raise Problem(503, "The sandbox's credential is not available yet; retry shortly.", slug="not-ready",
                      reason="CredentialNotReady", headers={"Retry-After": "2"}) from None
    data = (secret.get("data") or {}).get(SANDBOX_CREDENTIAL_KEY) or ""
    try:
        return base64.b64decode(data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Problem(503, "The sandbox's credential is not readable; an admin must rotate it.",
                      slug="not-ready", reason="CredentialUnreadable") from None


async def extend(*, identity: Identity, cache: ReadCache, writer: Writer, name: str, expires_at: str,
                 reason: str) -> Obj:
    """Record an extension request (owner or admin); an admin other than the requester approves it."""
    obj = get(identity=identity, cache=cache, name=name)
    require_role(identity, Role.PARTNER, Role.TEAM, Role.ADMIN)
    try:
        when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise Problem(422, "expiresAt must be an RFC 3339 time with a time zone.", slug="validation",
                      reason="ValidationFailed", errors=[{"field": "expiresAt", "message": "not an RFC 3339 time"}])
    if (obj.get("status") or {}).get("phase") == "Expired":
        raise Problem(409, "An expired sandbox cannot be extended.", slug="conflict", reason="Expired")
    ask = {"expiresAt": when.astimezone(UTC).isoformat().replace("+00:00", "Z"), "reason": reason,
           "requestedBy": identity.subject, "requestedAt": _now()}
    return await replace_annotations(writer=writer, cache=cache, obj=obj, set_={EXTENSION: json.dumps(ask)})


async def approve_extension(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> Obj:
    require_role(identity, Role.ADMIN)
    obj = get(identity=identity, cache=cache, name=name)
    raw = _ann(obj).get(EXTENSION)
    if not raw:
        raise Problem(409, "There is no pending extension request.", slug="conflict", reason="NothingPending")
    ask = json.loads(raw)
    if same_subject(identity, ask.get("requestedBy")):
        raise Problem(403, "Four-eyes rule: the requester cannot approve its own extension.", slug="forbidden",
                      reason="SelfApproval")
    body = copy.deepcopy(obj)
    body.pop("status", None)
    body["spec"]["expiresAt"] = ask["expiresAt"]
    body["spec"].pop("ttlSeconds", None)  # an explicit date replaces the relative lifetime
    body["metadata"].setdefault("annotations", {}).pop(EXTENSION, None)
    try:
        written = await writer.replace(body)
    except kerr.Conflict:
        raise Problem(409, "The sandbox changed meanwhile; retry.", slug="conflict", reason="Conflict") from None
    cache.observe(written)
    return written


async def rotate(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> Obj:
    """Ask the operator for a new credential (spec.credentialRotation + 1); shown once again."""
    obj = get(identity=identity, cache=cache, name=name)
    require_role(identity, Role.PARTNER, Role.TEAM, Role.ADMIN)
    if approval_state(obj) != "approved":
        raise Problem(409, "The sandbox is not approved; there is no credential to rotate.", slug="conflict",
                      reason="NotApproved")
    body = copy.deepcopy(obj)
    body.pop("status", None)
    body["spec"]["credentialRotation"] = int(body["spec"].get("credentialRotation") or 0) + 1
    try:
        written = await writer.replace(body)
    except kerr.Conflict:
        raise Problem(409, "The sandbox changed meanwhile; retry.", slug="conflict", reason="Conflict") from None
    cache.observe(written)
    return written


async def delete(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> None:
    require_role(identity, Role.ADMIN)
    obj = get(identity=identity, cache=cache, name=name)
    await writer.delete(API_VERSION, "TenantSandbox", name)
    cache.forget(obj)
