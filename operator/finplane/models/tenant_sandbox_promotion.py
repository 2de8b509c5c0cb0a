"""A partner sandbox's promotion to production access, as recorded on the TenantSandbox's annotations.

Pure parsing, no I/O. Written by the platform API (platform_api.services.sandbox_promotion: request,
four-eyes approval, revocation) and read by the operator's channel pass
(finplane.reconcile.channel_partners: production keys on production open-api routes) and by the DORA
register (finplane.render.dora_register). Annotations rather than spec fields: a promotion is a decision
about the arrangement, like the sandbox's own approval, and must outlive the sandbox's expiry.

- ``finplane.io/promotion``: ``pending`` | ``approved`` | ``rejected`` | ``revoked``.
- ``finplane.io/promotion-request``: JSON ``{"capabilities": ["ns/name", ...], "tier": "large"}``.
- ``finplane.io/promotion-requested-by``, ``-decided-by``, ``-decided-at``, ``-revoked-by``, ``-revoked-at``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["PROMOTION", "PROMOTION_ANNOTATIONS", "PROMOTION_DECIDED_AT", "PROMOTION_DECIDED_BY",
           "PROMOTION_REQUEST", "PROMOTION_REQUESTED_AT", "PROMOTION_REQUESTED_BY", "PROMOTION_REVOKED_AT",
           "PROMOTION_REVOKED_BY", "PRODUCTION_ENVIRONMENT", "ENVIRONMENT_LABEL", "Promotion",
           "PRODUCTION_CREDENTIAL_SECRET", "is_production_channel", "production_key_secret", "promotion_of"]

Obj = dict[str, Any]
Key = tuple[str, str]
PROMOTION = "finplane.io/promotion"
PROMOTION_REQUEST = "finplane.io/promotion-request"
PROMOTION_REQUESTED_BY = "finplane.io/promotion-requested-by"
PROMOTION_REQUESTED_AT = "finplane.io/promotion-requested-at"
PROMOTION_DECIDED_BY = "finplane.io/promotion-decided-by"
PROMOTION_DECIDED_AT = "finplane.io/promotion-decided-at"
PROMOTION_REVOKED_BY = "finplane.io/promotion-revoked-by"
PROMOTION_REVOKED_AT = "finplane.io/promotion-revoked-at"
#: What an admin's promotion decision depends on (part of the sandbox's review tag).
PROMOTION_ANNOTATIONS = (PROMOTION, PROMOTION_REQUEST, PROMOTION_REQUESTED_BY)
#: A Channel labelled ``finplane.io/environment: production`` is production: promoted partners' production
#: keys open its open-api routes, sandbox keys do not.
ENVIRONMENT_LABEL = "finplane.io/environment"
PRODUCTION_ENVIRONMENT = "production"
#: The copy of a promoted partner's production key in the sandbox's own namespace, from which the platform API
#: hands it to the partner once (the API may read Secrets of this name and the sandbox credential's, no other).
PRODUCTION_CREDENTIAL_SECRET = "partner-production-credential"


@dataclass(frozen=True, slots=True)
class Promotion:
    """The promotion recorded on a sandbox: its state, what it names and who asked and decided."""

    state: str
    capabilities: frozenset[Key]
    tier: str | None
    requested_by: str
    decided_by: str
    decided_at: str
    revoked_at: str


def _request(text: str | None) -> tuple[frozenset[Key], str | None]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return frozenset(), None
    if not isinstance(data, dict):
        return frozenset(), None
    caps = set()
    for ref in data.get("capabilities") or []:
        if isinstance(ref, str) and ref.count("/") == 1 and all(ref.split("/")):
            ns, name = ref.split("/")
            caps.add((ns, name))
    tier = data.get("tier")
    return frozenset(caps), tier if isinstance(tier, str) else None


def promotion_of(body: Obj | None) -> Promotion | None:
    """The sandbox's promotion, or None when none was ever requested (lenient: raw bodies)."""
    ann = ((body or {}).get("metadata") or {}).get("annotations") or {}
    state = ann.get(PROMOTION)
    if not state:
        return None
    caps, tier = _request(ann.get(PROMOTION_REQUEST))
    return Promotion(state=str(state), capabilities=caps, tier=tier,
                     requested_by=str(ann.get(PROMOTION_REQUESTED_BY, "")),
                     decided_by=str(ann.get(PROMOTION_DECIDED_BY, "")),
                     decided_at=str(ann.get(PROMOTION_DECIDED_AT, "")),
                     revoked_at=str(ann.get(PROMOTION_REVOKED_AT, "")))


def is_production_channel(body: Obj | None) -> bool:
    labels = ((body or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(ENVIRONMENT_LABEL) == PRODUCTION_ENVIRONMENT


def production_key_secret(sandbox: str) -> str:
    """The name of the Secret (in Finplane's own namespace) holding a promoted partner's production key."""
    return f"finplane-production-key.{sandbox}"[:253]
