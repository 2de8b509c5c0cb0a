"""Partner sandboxes: request, four-eyes approval bound to the reviewed version, the credential shown once.

Called by routers/sandboxes.py (extensions: services/sandbox_extensions.py). State lives on the
TenantSandbox CR itself (annotations), so every API replica agrees and the operator can honour it:

- ``finplane.io/approval``: ``pending`` | ``approved`` | ``rejected``. The operator provisions
  nothing while it is not ``approved`` (a CR created with kubectl, without the annotation, is
  the platform engineer's own decision and is provisioned as before).
- ``finplane.io/requested-by``, ``finplane.io/amended-by``, ``finplane.io/decided-by``: who asked,
  which admin changed the pending request, and who decided (never the requester nor the amender).
- ``finplane.io/credential-shown``: the fingerprint of the credential already handed out; the
  named partner's first read after provisioning (or after a rotation) returns the key and sets it,
  under the CR's resourceVersion so that two racing reads cannot both receive the key. Nobody
  else (not the admin or team that requested the sandbox) receives or consumes it.
- ``finplane.io/production-key-shown``: the same for a promoted partner's production key (the approval it
  belongs to: who decided and when, so a revocation and a new approval show a new key once). The operator
  copies the key into the sandbox's namespace (``partner-production-credential``) on its first channel pass
  after approval; until then the read says ``shown: false`` with no value, and the partner reads again.

Decisions (approve, reject, amend, extension approval) need ``If-Match`` with the sandbox's review
tag (``etag``; see :mod:`platform_api.services.sandbox_rules`): 428 without it, 412 when what the
admin reviewed changed since. What a request may contain is checked by sandbox_rules.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from finplane import API_VERSION, SANDBOX_CREDENTIAL_KEY, SANDBOX_CREDENTIAL_SECRET
from finplane.kube import errors as kerr
from finplane.models.tenant_sandbox_promotion import (
    PRODUCTION_CREDENTIAL_SECRET,
    PROMOTION_ANNOTATIONS,
    promotion_of,
)
from platform_api.auth.identity import Identity, Role, same_subject
from platform_api.authz import may_see_sandbox, not_found, require_role
from platform_api.cache import CAPABILITY, SANDBOX, ReadCache
from platform_api.problems import Problem
from platform_api.services import sandbox_rules as rules
from platform_api.services.common import replace_annotations, validate_spec
from platform_api.services.models import spec_model
from platform_api.settings import ApiSettings
from platform_api.state import Writer

__all__ = ["AMENDED_BY", "APPROVAL", "CREDENTIAL_SHOWN", "EXTENSION", "PRODUCTION_KEY_SHOWN", "REQUESTED_BY", "amend",
           "approve",
           "approval_state", "created_at", "delete", "get", "guarded_write", "list_visible", "now", "public",
           "read_with_credential", "request", "review_tag", "rotate"]

Obj = dict[str, Any]
APPROVAL = "finplane.io/approval"
REQUESTED_BY = "finplane.io/requested-by"
AMENDED_BY = "finplane.io/amended-by"
DECIDED_BY = "finplane.io/decided-by"
DECISION_COMMENT = "finplane.io/decision-comment"
TERMS = "finplane.io/terms-accepted-at"
CREDENTIAL_SHOWN = "finplane.io/credential-shown"
PRODUCTION_KEY_SHOWN = "finplane.io/production-key-shown"
EXTENSION = "finplane.io/extension-request"
#: The annotations an admin's decision depends on (part of the review tag).
REVIEWED = (APPROVAL, REQUESTED_BY, AMENDED_BY, EXTENSION, *PROMOTION_ANNOTATIONS)


def now() -> datetime:
    return datetime.now(UTC)


def _now() -> str:
    return now().isoformat(timespec="seconds").replace("+00:00", "Z")


def _ann(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def approval_state(obj: Obj) -> str:
    return _ann(obj).get(APPROVAL, "approved")  # created outside the API: the platform engineer decided


def review_tag(obj: Obj) -> str:
    return rules.review_tag(obj, annotations=REVIEWED)


def created_at(obj: Obj) -> datetime:
    """When the sandbox was created (its lifetime is counted from then), or now if not known yet."""
    meta = obj.get("metadata", {})
    return rules.parse_time(meta.get("creationTimestamp")) or rules.parse_time(_ann(obj).get(TERMS)) or now()


def _marker(obj: Obj) -> str | None:
    """What identifies the current credential: the status fingerprint (or hash) with its rotation."""
    status = obj.get("status") or {}
    if not status.get("credentialSecretRef"):
        return None
    print_ = status.get("credentialFingerprint") or status.get("credentialHash") or "provisioned"
    return f"{status.get('credentialRotation', 0)}:{print_}"


def _production_marker(obj: Obj) -> str | None:
    """What identifies the current production key: the approval it belongs to (None unless approved)."""
    p = promotion_of(obj)
    if p is None or p.state != "approved":
        return None
    return f"{p.decided_by}@{p.decided_at}"


def public(obj: Obj, *, credential_value: str | None = None, production_value: str | None = None) -> Obj:
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
            "approval": approval_state(obj), "requestedBy": ann.get(REQUESTED_BY), "amendedBy": ann.get(AMENDED_BY),
            "decidedBy": ann.get(DECIDED_BY), "phase": status.get("phase"), "namespace": status.get("namespace"),
            "expiresAt": status.get("expiresAt") or spec.get("expiresAt"),
            "resourceVersion": meta.get("resourceVersion", ""), "etag": review_tag(obj), "spec": spec,
            "platformFields": rules.platform_fields(spec), "conditions": status.get("conditions") or [],
            "credential": credential, "extensionRequest": extension,
            "promotion": _promotion(obj, production_value)}


def _promotion(obj: Obj, production_value: str | None) -> Obj | None:
    p = promotion_of(obj)
    if p is None:
        return None
    marker = _production_marker(obj)
    production = None if marker is None else {
        "value": production_value, "shown": production_value is not None or _ann(obj).get(PRODUCTION_KEY_SHOWN) == marker}
    return {"state": p.state, "capabilities": [f"{ns}/{n}" for ns, n in sorted(p.capabilities)], "tier": p.tier,
            "requestedBy": p.requested_by or None, "decidedBy": p.decided_by or None,
            "decidedAt": p.decided_at or None, "revokedAt": p.revoked_at or None, "productionCredential": production}


def list_visible(*, identity: Identity, cache: ReadCache) -> list[Obj]:
    return [o for o in cache.list(SANDBOX) if may_see_sandbox(identity, o)]


def get(*, identity: Identity, cache: ReadCache, name: str) -> Obj:
    obj = cache.get(SANDBOX, name)
    if obj is None or not may_see_sandbox(identity, obj):
        raise not_found("Sandbox", name)
    return obj


def _refuse(errors: list[dict[str, str]], detail: str, reason: str = "ValidationFailed") -> None:
    if errors:
        raise Problem(422, detail, slug="validation", reason=reason, errors=errors)


def _capability_errors(spec: Obj, cache: ReadCache) -> list[dict[str, str]]:
    """Restricted (or unknown) capabilities are an admin's to grant, never in a partner's own request."""
    errors = []
    for i, ref in enumerate(spec.get("allowedCapabilities") or []):
        cap = cache.get(CAPABILITY, str(ref.get("name")), str(ref.get("namespace"))) if isinstance(ref, dict) else None
        if cap is None or (cap.get("spec") or {}).get("dataClassification") == "restricted":
            # One message for both: a partner does not learn which restricted capabilities exist.
            errors.append({"field": f"spec.allowedCapabilities[{i}]",
                           "message": "is not a capability a partner's request may name; a platform admin adds it"})
    return errors


def check_spec(*, identity: Identity, cache: ReadCache, settings: ApiSettings, name: str, spec: Obj,
               created: datetime) -> None:
    """Every rule of a sandbox spec for this caller (422 naming each refused field)."""
    validate_spec(spec_model("TenantSandbox"), spec)
    partner = str((spec.get("partner") or {}).get("name") or "")
    errors = rules.name_errors(name, partner) + rules.member_errors(spec)
    if identity.role is not Role.ADMIN:
        prefix = settings.partner_member_prefix.format(partner=partner)
        errors += rules.partner_field_errors(spec, member_prefix=prefix) + _capability_errors(spec, cache)
    _refuse(errors, "The sandbox request sets fields its requester may not set; see errors.")
    field = "spec.expiresAt" if spec.get("expiresAt") else "spec.ttlSeconds"
    _refuse(rules.lifetime_errors(expires_at=rules.parse_time(spec.get("expiresAt")), ttl_seconds=spec.get("ttlSeconds"),
                                  created=created, now=now(), max_ttl_seconds=settings.sandbox_max_ttl_seconds,
                                  field=field),
            "The sandbox's lifetime is outside the platform's bounds.", reason="LifetimeOutOfBounds")


async def request(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings, name: str,
                  spec: Obj, terms_accepted: bool) -> Obj:
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
    check_spec(identity=identity, cache=cache, settings=settings, name=name, spec=spec, created=now())
    body = {"apiVersion": API_VERSION, "kind": "TenantSandbox",
            "metadata": {"name": name, "labels": {"finplane.io/partner": str((spec.get("partner") or {}).get("name"))},
                         "annotations": {APPROVAL: "pending", REQUESTED_BY: identity.subject, TERMS: _now()}},
            "spec": spec}
    try:
        created = await writer.create(body)
    except kerr.AlreadyExists:
        # Only reachable inside the caller's own name space (<partner>--…): it reveals nothing about others.
        raise Problem(409, f"Sandbox {name!r} already exists.", slug="conflict", reason="AlreadyExists") from None
    cache.observe(created)
    return created


def _strip_tag(tag: str) -> str:
    tag = tag.strip()
    return (tag[2:] if tag.startswith("W/") else tag).strip()


def check_review(if_match: str | None, obj: Obj) -> None:
    """428 without a specific If-Match; 412 when the sandbox's reviewed content is not what the caller read."""
    asked = [_strip_tag(t) for t in (if_match or "").split(",") if t.strip()]
    if not asked or "*" in asked:
        raise Problem(428, "Send If-Match with the sandbox's ETag (its `etag`) as you reviewed it.",
                      slug="precondition-required", reason="PreconditionRequired")
    current = review_tag(obj)
    if current not in asked:
        raise Problem(412, "The sandbox has changed since you reviewed it (If-Match does not match); "
                      "read it again, review the change and retry with the current ETag.",
                      slug="precondition-failed", reason="StaleVersion", headers={"ETag": current},
                      extra={"currentVersion": current})


async def guarded_write(*, writer: Writer, cache: ReadCache, obj: Obj, if_match: str | None,
                        check: Callable[[Obj], None], change: Callable[[Obj], None]) -> Obj:
    """Apply ``change`` to what the caller reviewed, guarded twice: the review tag and the resourceVersion.

    A conflict (the cache was behind, or the operator wrote status meanwhile) re-reads the cluster's copy
    and re-runs ``check`` and the review check on it, so a change of the reviewed content is a 412.
    """
    name = obj["metadata"]["name"]
    for _ in range(3):
        check(obj)
        check_review(if_match, obj)
        body = copy.deepcopy(obj)
        body.pop("status", None)
        change(body)
        try:
            written = await writer.replace(body)
        except kerr.Conflict:
            obj = await writer.get(API_VERSION, "TenantSandbox", name)
            cache.observe(obj)
            continue
        cache.observe(written)
        return written
    raise Problem(409, "The sandbox keeps changing; retry.", slug="conflict", reason="Conflict")


def _reviewers(obj: Obj) -> set[str]:
    return {s for s in (_ann(obj).get(REQUESTED_BY), _ann(obj).get(AMENDED_BY)) if s}


async def approve(*, identity: Identity, cache: ReadCache, writer: Writer, name: str, approved: bool,
                  comment: str | None, if_match: str | None) -> Obj:
    """Four-eyes: an admin who neither requested nor amended it decides the version it reviewed, once."""
    require_role(identity, Role.ADMIN)
    obj = get(identity=identity, cache=cache, name=name)

    def check(current: Obj) -> None:
        if approval_state(current) != "pending":
            raise Problem(409, f"The request was already decided ({approval_state(current)}).", slug="conflict",
                          reason="AlreadyDecided")
        if any(same_subject(identity, s) for s in _reviewers(current)):
            raise Problem(403, "Four-eyes rule: whoever requested or amended a request cannot approve or reject it.",
                          slug="forbidden", reason="SelfApproval")

    def change(body: Obj) -> None:
        ann = body["metadata"].setdefault("annotations", {})
        ann.update({APPROVAL: "approved" if approved else "rejected", DECIDED_BY: identity.subject,
                    "finplane.io/decided-at": _now()})
        if comment is not None:
            ann[DECISION_COMMENT] = comment

    return await guarded_write(writer=writer, cache=cache, obj=obj, if_match=if_match, check=check, change=change)


async def amend(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings, name: str,
                spec: Obj, if_match: str | None) -> Obj:
    """An admin replaces a pending request's spec (platform-only fields included), visibly: amended-by."""
    require_role(identity, Role.ADMIN)
    obj = get(identity=identity, cache=cache, name=name)
    check_spec(identity=identity, cache=cache, settings=settings, name=name, spec=spec, created=created_at(obj))

    def check(current: Obj) -> None:
        if approval_state(current) != "pending":
            raise Problem(409, "Only a pending request can be amended; an approved sandbox changes through its "
                          "CR (kubectl), a decision of the platform engineer.", slug="conflict", reason="NotPending")

    def change(body: Obj) -> None:
        body["spec"] = copy.deepcopy(spec)
        body["metadata"].setdefault("annotations", {}).update({AMENDED_BY: identity.subject,
                                                               "finplane.io/amended-at": _now()})

    return await guarded_write(writer=writer, cache=cache, obj=obj, if_match=if_match, check=check, change=change)


def _is_named_partner(identity: Identity, obj: Obj) -> bool:
    partner = ((obj.get("spec") or {}).get("partner") or {}).get("name")
    return identity.role is Role.PARTNER and partner is not None and partner == identity.partner


def _due(obj: Obj) -> dict[str, str | None]:
    """The once-only values not handed out yet: annotation -> the marker that records their showing."""
    due: dict[str, str | None] = {}
    for annotation, marker in ((CREDENTIAL_SHOWN, _marker(obj)), (PRODUCTION_KEY_SHOWN, _production_marker(obj))):
        if marker is not None and _ann(obj).get(annotation) != marker:
            due[annotation] = marker
    return due


async def read_with_credential(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> Obj:
    """The sandbox; for the partner it names, the credential exactly once after it is provisioned or rotated, and
    the production key exactly once after a promotion is approved (both marked shown in one write)."""
    obj = get(identity=identity, cache=cache, name=name)
    if not _is_named_partner(identity, obj) or not _due(obj):
        return public(obj)
    for _ in range(3):
        due = _due(obj)
        if not due:
            return public(obj)  # a racing read received them
        # Read the keys before marking them shown: a failed read must not lose the only showing.
        value = await _read_key(writer=writer, obj=obj) if CREDENTIAL_SHOWN in due else None
        production = await _read_production_key(writer=writer, obj=obj) if PRODUCTION_KEY_SHOWN in due else None
        if production is None:
            due.pop(PRODUCTION_KEY_SHOWN, None)  # not delivered by the operator yet: shown on a later read
        if not due:
            return public(obj)
        try:
            written = await replace_annotations(writer=writer, cache=cache, obj=obj, set_=due)
        except Problem:
            # Stale cache or a racing write: look at the cluster's copy before deciding.
            obj = await writer.get(API_VERSION, "TenantSandbox", name)
            cache.observe(obj)
            continue
        return public(written, credential_value=value, production_value=production)
    raise Problem(409, "The sandbox keeps changing; retry.", slug="conflict", reason="Conflict")


async def _read_production_key(*, writer: Writer, obj: Obj) -> str | None:
    """The operator's copy of the production key in the sandbox's namespace, or None while there is none."""
    ns = (obj.get("status") or {}).get("namespace")
    if not ns:
        return None
    try:
        secret = await writer.get("v1", "Secret", PRODUCTION_CREDENTIAL_SECRET, ns)
    except kerr.NotFound:
        return None
    try:
        return base64.b64decode((secret.get("data") or {}).get(SANDBOX_CREDENTIAL_KEY) or "", validate=True).decode() \
            or None
    except (binascii.Error, UnicodeDecodeError):
        return None


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


async def rotate(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> Obj:
    """Ask the operator for a new credential (spec.credentialRotation + 1); shown once again.

    A conflict (the cache behind, the operator's status write) re-reads the cluster's copy and rotates from it:
    the caller sent no precondition, and two racing rotations are two rotations."""
    obj = get(identity=identity, cache=cache, name=name)
    require_role(identity, Role.PARTNER, Role.TEAM, Role.ADMIN)
    for _ in range(3):
        if approval_state(obj) != "approved":
            raise Problem(409, "The sandbox is not approved; there is no credential to rotate.", slug="conflict",
                          reason="NotApproved")
        body = copy.deepcopy(obj)
        body.pop("status", None)
        body["spec"]["credentialRotation"] = int(body["spec"].get("credentialRotation") or 0) + 1
        try:
            written = await writer.replace(body)
        except kerr.Conflict:
            obj = await writer.get(API_VERSION, "TenantSandbox", name)
            cache.observe(obj)
            continue
        cache.observe(written)
        return written
    raise Problem(409, "The sandbox keeps changing; retry.", slug="conflict", reason="Conflict")


async def delete(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> None:
    require_role(identity, Role.ADMIN)
    obj = get(identity=identity, cache=cache, name=name)
    await writer.delete(API_VERSION, "TenantSandbox", name)
    cache.forget(obj)
