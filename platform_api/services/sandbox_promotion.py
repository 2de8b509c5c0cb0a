"""Promotion of a partner sandbox to production access: request, four-eyes approval, revocation.

Called by routers/sandboxes.py. The promotion is recorded on the TenantSandbox's annotations
(finplane.models.tenant_sandbox_promotion), so the operator's channel pass renders the production key
onto production open-api routes once it is ``approved`` and removes it once it is ``revoked``.

- request: an admin, or the partner the sandbox names, for an approved sandbox; the capabilities must be
  among the sandbox's own (production access never reaches further than the sandbox did).
- approve/reject: an admin who is not the requester (canonical subject comparison, ``same_subject``),
  with ``If-Match`` on the review tag it read (the promotion annotations are part of it): 428 without,
  412 when the request was swapped after review. A partner is never an approver.
- revoke: an admin; ends production access whatever the sandbox's expiry, and forgets that the key was shown
  (a later approval's new key is handed out once again).
- the production key itself reaches the partner through ``sandboxes.read_with_credential``, once.
"""

from __future__ import annotations

import json

from finplane.models.tenant_sandbox_promotion import (
    PROMOTION,
    PROMOTION_DECIDED_AT,
    PROMOTION_DECIDED_BY,
    PROMOTION_REQUEST,
    PROMOTION_REQUESTED_AT,
    PROMOTION_REQUESTED_BY,
    PROMOTION_REVOKED_AT,
    PROMOTION_REVOKED_BY,
    promotion_of,
)
from platform_api.auth.identity import Identity, Role, same_subject
from platform_api.authz import require_role
from platform_api.cache import ReadCache
from platform_api.problems import Problem
from platform_api.services import sandboxes as svc
from platform_api.settings import ApiSettings
from platform_api.state import Writer

__all__ = ["decide", "request", "revoke"]

Obj = svc.Obj


def _conflict(detail: str, reason: str) -> Problem:
    return Problem(409, detail, slug="conflict", reason=reason)


async def request(*, identity: Identity, cache: ReadCache, writer: Writer, settings: ApiSettings, name: str,
                  capabilities: list[str], tier: str | None) -> Obj:
    """Ask for production access to some of the sandbox's capabilities (pending until a second admin decides)."""
    require_role(identity, Role.PARTNER, Role.ADMIN)
    obj = svc.get(identity=identity, cache=cache, name=name)
    partner = ((obj.get("spec") or {}).get("partner") or {}).get("name")
    if identity.role is Role.PARTNER and partner != identity.partner:
        raise Problem(403, "Only the partner the sandbox names, or an admin, may request its promotion.",
                      slug="forbidden", reason="NotTheNamedPartner")
    allowed = {f"{r.get('namespace')}/{r.get('name')}" for r in (obj.get("spec") or {}).get("allowedCapabilities") or []
               if isinstance(r, dict)}
    errors = [{"field": f"capabilities[{i}]", "message": "is not one of the sandbox's allowed capabilities"}
              for i, c in enumerate(capabilities) if c not in allowed]
    if tier is not None and tier not in ("small", "medium", "large"):
        errors.append({"field": "tier", "message": "must be small, medium or large"})
    if errors:
        raise Problem(422, "The promotion names what the sandbox may not reach; see errors.", slug="validation",
                      reason="ValidationFailed", errors=errors)
    del settings  # the tiers are the operator's; the API checks only their names

    def check(current: Obj) -> None:
        if svc.approval_state(current) != "approved":
            raise _conflict("Only an approved sandbox can be promoted.", "NotApproved")
        state = promotion_of(current)
        if state is not None and state.state in ("pending", "approved"):
            raise _conflict(f"A promotion is already {state.state}; revoke it first.", "AlreadyPromoted")

    def change(body: Obj) -> None:
        ann = body["metadata"].setdefault("annotations", {})
        for key in (PROMOTION_DECIDED_BY, PROMOTION_DECIDED_AT, PROMOTION_REVOKED_BY, PROMOTION_REVOKED_AT,
                    svc.PRODUCTION_KEY_SHOWN):
            ann.pop(key, None)
        ann.update({PROMOTION: "pending", PROMOTION_REQUESTED_BY: identity.subject, PROMOTION_REQUESTED_AT: svc._now(),
                    PROMOTION_REQUEST: json.dumps({"capabilities": sorted(set(capabilities)), "tier": tier},
                                                  sort_keys=True)})

    # No review to bind: the requester writes under the sandbox's current tag.
    return await svc.guarded_write(writer=writer, cache=cache, obj=obj, if_match=svc.review_tag(obj), check=check,
                                   change=change)


async def decide(*, identity: Identity, cache: ReadCache, writer: Writer, name: str, approved: bool,
                 if_match: str | None) -> Obj:
    """Four-eyes: an admin other than the requester approves or rejects the promotion it reviewed."""
    require_role(identity, Role.ADMIN)
    obj = svc.get(identity=identity, cache=cache, name=name)

    def check(current: Obj) -> None:
        promotion = promotion_of(current)
        if promotion is None or promotion.state != "pending":
            raise _conflict("There is no pending promotion to decide.", "NotPending")
        if same_subject(identity, promotion.requested_by):
            raise Problem(403, "Four-eyes rule: whoever requested a promotion cannot approve or reject it.",
                          slug="forbidden", reason="SelfApproval")

    def change(body: Obj) -> None:
        body["metadata"].setdefault("annotations", {}).update({
            PROMOTION: "approved" if approved else "rejected", PROMOTION_DECIDED_BY: identity.subject,
            PROMOTION_DECIDED_AT: svc._now()})

    return await svc.guarded_write(writer=writer, cache=cache, obj=obj, if_match=if_match, check=check, change=change)


async def revoke(*, identity: Identity, cache: ReadCache, writer: Writer, name: str) -> Obj:
    """End production access (an admin); the next channel pass removes the production key."""
    require_role(identity, Role.ADMIN)
    obj = svc.get(identity=identity, cache=cache, name=name)

    def check(current: Obj) -> None:
        promotion = promotion_of(current)
        if promotion is None or promotion.state not in ("pending", "approved"):
            raise _conflict("There is no promotion to revoke.", "NotPromoted")

    def change(body: Obj) -> None:
        body["metadata"].setdefault("annotations", {}).pop(svc.PRODUCTION_KEY_SHOWN, None)  # a next key shows again
        body["metadata"]["annotations"].update({
            PROMOTION: "revoked", PROMOTION_REVOKED_BY: identity.subject, PROMOTION_REVOKED_AT: svc._now()})

    return await svc.guarded_write(writer=writer, cache=cache, obj=obj, if_match=svc.review_tag(obj), check=check,
                                   change=change)
