"""The DORA register of information: one row per ICT third-party arrangement (a partner sandbox), as of a date.

Pure: raw TenantSandbox, BusinessCapability and Channel bodies -> rows, CSV or JSON; no I/O. Called by
`finplane evidence register` (finplane.commands.register) and the platform API's register route
(platform_api.services.register), so both write the same rows.

A sandbox is an arrangement from its creation (contract start) to its expiry (contract end: the
expiry the operator recorded in status, else the one its spec gives). Every arrangement that started
on or before the as-of date is listed, ended ones included, with `status` saying whether it was
active, ended or not yet approved on that date. What the partner can reach comes from the spec
(`allowedCapabilities`) and the capabilities' own bodies (business domain = the function supported,
data classification), the partner-facing channel routes that lead there, the registry the sandbox
pulls from and the roles its members hold. No credential, hash or fingerprint is ever part of a row.

A promotion to production access (finplane.models.tenant_sandbox_promotion) is an arrangement of its
own, `<sandbox>/production`: from its approval to its revocation (the sandbox's expiry does not end it),
reaching the capabilities it names, `pending` while a second admin has not decided.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from finplane.models.tenant_sandbox_promotion import promotion_of

__all__ = ["COLUMNS", "as_csv", "parse_as_of", "register_rows"]

Obj = dict[str, Any]
Key = tuple[str, str]
COLUMNS = ("arrangementId", "partner", "organisation", "contact", "contractStart", "contractEnd", "status",
           "functions", "capabilities", "channelRoutes", "dataClassifications", "registries", "roles")


def parse_as_of(value: str) -> datetime:
    """An ISO 8601 date (its end, 23:59:59.999999 UTC) or an aware date-time; ValueError otherwise."""
    text = value.strip()
    if len(text) == 10:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return day + timedelta(days=1) - timedelta(microseconds=1)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add Z or an offset")
    return moment.astimezone(UTC)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _end(body: Obj, start: datetime | None) -> datetime | None:
    spec, status = body.get("spec") or {}, body.get("status") or {}
    recorded = _time(status.get("expiresAt")) or _time(spec.get("expiresAt"))
    if recorded is not None:
        return recorded
    ttl = spec.get("ttlSeconds")
    return start + timedelta(seconds=int(ttl)) if start is not None and isinstance(ttl, int) else None


def _status(body: Obj, as_of: datetime, end: datetime | None) -> str:
    approval = ((body.get("metadata") or {}).get("annotations") or {}).get("finplane.io/approval", "approved")
    if approval == "rejected":
        return "rejected"
    if end is not None and end <= as_of:
        return "ended"
    if (body.get("status") or {}).get("teardown"):
        return "ended"
    return "active" if approval == "approved" else "pending"


def _routes(channels: Iterable[Obj], caps: set[Key]) -> list[str]:
    out = []
    for ch in channels:
        spec = ch.get("spec") or {}
        if spec.get("type") != "open-api":
            continue
        for r in spec.get("routes") or []:
            ref = (r or {}).get("capability") or {}
            if (ref.get("namespace"), ref.get("name")) in caps:
                out.append(f"{(ch.get('metadata') or {}).get('name')}/{r.get('name')}")
    return sorted(out)


def register_rows(*, sandboxes: Iterable[Obj], capabilities: Mapping[Key, Obj], channels: Iterable[Obj],
                  as_of: datetime) -> list[Obj]:
    """One row per sandbox created on or before `as_of`, sorted by partner then arrangement."""
    channel_list = list(channels)
    rows: list[Obj] = []
    for body in sandboxes:
        meta, spec = body.get("metadata") or {}, body.get("spec") or {}
        start = _time(meta.get("creationTimestamp"))
        if start is None or start > as_of:
            continue
        end = _end(body, start)
        partner = spec.get("partner") or {}
        caps = {(str(c.get("namespace")), str(c.get("name"))) for c in spec.get("allowedCapabilities") or []
                if isinstance(c, dict)}
        found = [capabilities[k] for k in sorted(caps) if k in capabilities]
        functions = sorted({str((c.get("spec") or {}).get("domain")) for c in found if (c.get("spec") or {}).get("domain")})
        classes = sorted({str((c.get("spec") or {}).get("dataClassification")) for c in found
                          if (c.get("spec") or {}).get("dataClassification")})
        roles = ["partner-api-client"] + sorted(f"sandbox-member:{m.get('kind')}:{m.get('name')}"
                                                for m in spec.get("members") or [] if isinstance(m, dict))
        promotion = promotion_of(body)
        if promotion is not None and promotion.state in ("pending", "approved", "revoked"):
            p_start = _time(promotion.decided_at) if promotion.state != "pending" else None
            p_end = _time(promotion.revoked_at)
            p_caps = set(promotion.capabilities & caps)
            if p_start is None or p_start <= as_of:
                p_status = ("pending" if promotion.state == "pending" else
                            "ended" if p_end is not None and p_end <= as_of else "active")
                p_found = [capabilities[k] for k in sorted(p_caps) if k in capabilities]
                rows.append({
                    "arrangementId": f"{meta.get('name', '')}/production", "partner": partner.get("name", ""),
                    "organisation": partner.get("organisation", ""), "contact": partner.get("contact", ""),
                    "contractStart": _iso(p_start), "contractEnd": _iso(p_end) if p_status == "ended" else "",
                    "status": p_status, "functions": _of(p_found, "domain"),
                    "capabilities": [f"{ns}/{n}" for ns, n in sorted(p_caps)],
                    "channelRoutes": _routes(channel_list, p_caps), "dataClassifications": _of(p_found,
                                                                                              "dataClassification"),
                    "registries": [], "roles": ["partner-api-client:production"]})
        rows.append({
            "arrangementId": meta.get("name", ""), "partner": partner.get("name", ""),
            "organisation": partner.get("organisation", ""), "contact": partner.get("contact", ""),
            "contractStart": _iso(start), "contractEnd": _iso(end), "status": _status(body, as_of, end),
            "functions": functions, "capabilities": [f"{ns}/{n}" for ns, n in sorted(caps)],
            "channelRoutes": _routes(channel_list, caps), "dataClassifications": classes,
            "registries": [spec["registryRef"]] if spec.get("registryRef") else [], "roles": roles,
        })
    return sorted(rows, key=lambda r: (r["partner"], r["arrangementId"]))


def _of(found: list[Obj], field: str) -> list[str]:
    return sorted({str((c.get("spec") or {}).get(field)) for c in found if (c.get("spec") or {}).get(field)})


def _cell(text: str) -> str:
    """A partner-written value never runs as a spreadsheet formula (CSV injection): prefixed with '."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(rows: Iterable[Obj]) -> str:
    """The rows as CSV with a header line; list cells are joined by `;`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(";".join(v) if isinstance(v, list) else str(v)) for v in (row[c] for c in COLUMNS)])
    return buf.getvalue()
