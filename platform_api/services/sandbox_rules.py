"""The contract of a sandbox request, as pure checks: names, who may set which field, lifetime bounds.

Called by :mod:`platform_api.services.sandboxes` before anything is written. Nothing here does I/O;
each check returns the field errors (``[{field, message}]``) it finds so that the caller answers one
422 naming every refused field.

- **Names** are namespaced per partner: ``<partner>--<suffix>``. A partner can therefore create
  only names nobody else may use, so the answer to a name in another partner's space is the same
  422 whether that name exists or not (no 201-versus-409 oracle, no squatting). Partner names that
  contain ``--`` themselves would make the split ambiguous and are refused.
- **Partner fields**: a partner sets its own details, the tier, the lifetime (within the platform's
  maximum), members under its own IdP prefix and the capabilities it asks to call. Everything else
  (explicit quota, registry, images, IAM role, credential rotation at creation) is platform-only:
  an admin sets it, and the sandbox shows which platform-only fields are set (``platformFields``).
- **Members** named ``system:…`` (``system:masters``, ``system:authenticated``…) are refused for
  every caller: binding them would hand the sandbox to the whole cluster or to its admins.
- **Lifetime**: a new sandbox may live at most ``sandbox_max_ttl_seconds``; an extension may move the
  expiry forward but never into the past nor beyond creation + that maximum (the operator's own rule,
  ``finplane.render.sandbox_lifecycle.lifetime_problem``, measured from the creation time).
- **Review tag**: the ETag an admin approves against. It hashes what the admin decides on (spec,
  pending extension, approval state, requester, amender) and not the status, so the operator's status
  writes do not make a reviewed version stale, while any change of what was reviewed does.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["NAME_SEPARATOR", "PARTNER_FIELDS", "PLATFORM_FIELDS", "lifetime_errors", "member_errors",
           "name_errors", "parse_time", "partner_field_errors", "platform_fields", "review_tag"]

Obj = dict[str, Any]
Errors = list[dict[str, str]]

NAME_SEPARATOR = "--"
#: Spec fields a partner may set in its own request.
PARTNER_FIELDS = frozenset({"partner", "tier", "members", "allowedCapabilities", "ttlSeconds", "expiresAt",
                            "expiryWarningSeconds"})
#: Spec fields only an admin sets (shown in ``platformFields`` when present).
PLATFORM_FIELDS = ("quota", "registryRef", "allowedImages", "awsRoleArn", "credentialRotation")


def name_errors(name: str, partner: str | None) -> Errors:
    """The sandbox name must be ``<partner>--<suffix>`` (the partner of the spec)."""
    if not partner:
        return []  # the spec's own validation names the missing partner
    if NAME_SEPARATOR in partner:
        return [{"field": "spec.partner.name",
                 "message": f"must not contain {NAME_SEPARATOR!r} (it separates the partner from the sandbox name)"}]
    prefix = partner + NAME_SEPARATOR
    if not name.startswith(prefix) or len(name) == len(prefix):
        return [{"field": "name", "message": f"sandboxes of partner {partner!r} are named '{prefix}<name>'"}]
    return []


def platform_fields(spec: Obj) -> list[str]:
    """The platform-only fields a spec sets (credentialRotation only when above 0)."""
    out = [f for f in PLATFORM_FIELDS if spec.get(f) not in (None, [], {}) and f != "credentialRotation"]
    if int(spec.get("credentialRotation") or 0) > 0:
        out.append("credentialRotation")
    return out


def partner_field_errors(spec: Obj, *, member_prefix: str) -> Errors:
    """Fields a partner may not set, and members outside its own IdP prefix."""
    errors = [{"field": f"spec.{f}", "message": "is set by a platform admin, not in a partner's request"}
              for f in platform_fields(spec)]
    errors += [{"field": f"spec.{f}", "message": "is not a field a partner may set"}
               for f in sorted(set(spec) - PARTNER_FIELDS - set(PLATFORM_FIELDS))]
    for i, member in enumerate(spec.get("members") or []):
        name = member.get("name") if isinstance(member, dict) else None
        if isinstance(name, str) and not name.startswith(member_prefix):
            errors.append({"field": f"spec.members[{i}].name", "message": f"a partner's members start with "
                           f"{member_prefix!r} (its own identity provider's names)"})
    return errors


def member_errors(spec: Obj) -> Errors:
    """``system:`` users and groups are refused for everybody."""
    errors = []
    for i, member in enumerate(spec.get("members") or []):
        name = member.get("name") if isinstance(member, dict) else None
        if isinstance(name, str) and name.strip().lower().startswith("system:"):
            errors.append({"field": f"spec.members[{i}].name",
                           "message": "system: users and groups are Kubernetes' own and cannot be sandbox members"})
    return errors


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an RFC 3339 string (or datetime); None when it is not one."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _fmt(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def lifetime_errors(*, expires_at: datetime | None, ttl_seconds: int | None, created: datetime, now: datetime,
                    max_ttl_seconds: int, field: str) -> Errors:
    """The expiry must lie after ``now`` and at most ``max_ttl_seconds`` after ``created``."""
    latest = created + timedelta(seconds=max_ttl_seconds)
    if ttl_seconds is not None and ttl_seconds > max_ttl_seconds:
        return [{"field": field, "message": f"at most {max_ttl_seconds} (the platform's longest sandbox lifetime)"}]
    if expires_at is None:
        return []
    if expires_at <= now:
        return [{"field": field, "message": "must lie in the future"}]
    if expires_at > latest:
        return [{"field": field, "message": f"at most {_fmt(latest)}: a sandbox lives at most {max_ttl_seconds}s "
                                            "from its creation"}]
    return []


def review_tag(obj: Obj, *, annotations: tuple[str, ...]) -> str:
    """The quoted ETag of what an admin reviews: the spec and the decision-relevant annotations."""
    ann = obj.get("metadata", {}).get("annotations") or {}
    content = {"spec": obj.get("spec") or {}, "annotations": {k: ann.get(k) for k in annotations},
               "uid": obj.get("metadata", {}).get("uid")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return f'"r-{digest}"'
