"""Partner usage in the catalog: per capability, the metered usage of the partner sandboxes that may call it.

Called by routers/catalog.py once per request (two instant queries to Prometheus, whatever the page size), then
by services/catalog.entry for each capability. The figures are the metering recording rules of
finplane.render.gateway_metering, which count per partner (the sandbox's client id), not per route: a
partner's figures are its calls on every route it may use, and say so (`scope: partner`). Without
FINPLANE_API_PROMETHEUS_URL, or when Prometheus cannot answer, there is no usage: the entries carry no
`partnerUsage` field at all (never a made-up zero). A partner with no recorded series has made no metered call:
it is listed with zeros, as `GET /api/v1/sandboxes/{name}/usage` answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from platform_api.cache import SANDBOX, ReadCache
from platform_api.services.sandbox_usage import MONTH_RULE, RATE_RULE
from platform_api.settings import ApiSettings

__all__ = ["PartnerUsage", "load", "summary"]

Obj = dict[str, Any]
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class PartnerUsage:
    """The recorded usage by client id, and which sandboxes may call which capability."""

    rate: dict[str, float]
    month: dict[str, float]
    callers: dict[Key, list[str]]


async def _vector(client: httpx.AsyncClient, base: str, query: str) -> dict[str, float] | None:
    try:
        resp = await client.get(f"{base.rstrip('/')}/api/v1/query", params={"query": query})
        body: Any = resp.json()
    except (httpx.HTTPError, ValueError):
        return None
    if resp.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
        return None
    out: dict[str, float] = {}
    try:
        for r in (body.get("data") or {}).get("result") or []:
            partner = str((r.get("metric") or {}).get("partner") or "")
            if partner:
                out[partner] = out.get(partner, 0.0) + float(r["value"][1])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
    return out


def _callers(cache: ReadCache) -> dict[Key, list[str]]:
    """Approved sandboxes by the capabilities they may call."""
    out: dict[Key, list[str]] = {}
    for sbx in cache.list(SANDBOX):
        meta = sbx.get("metadata") or {}
        if (meta.get("annotations") or {}).get("finplane.io/approval", "approved") != "approved":
            continue
        for ref in (sbx.get("spec") or {}).get("allowedCapabilities") or []:
            if isinstance(ref, dict) and ref.get("namespace") and ref.get("name"):
                out.setdefault((str(ref["namespace"]), str(ref["name"])), []).append(str(meta.get("name")))
    return {k: sorted(v) for k, v in out.items()}


async def load(*, settings: ApiSettings, cache: ReadCache) -> PartnerUsage | None:
    """Every partner's recorded usage, or None when no usage source is configured or it cannot answer."""
    if not settings.prometheus_url:
        return None
    async with httpx.AsyncClient(timeout=settings.prometheus_timeout_seconds) as client:
        rate = await _vector(client, settings.prometheus_url, RATE_RULE)
        month = await _vector(client, settings.prometheus_url, MONTH_RULE) if rate is not None else None
    if rate is None or month is None:
        return None
    return PartnerUsage(rate=rate, month=month, callers=_callers(cache))


def summary(usage: PartnerUsage, namespace: str, name: str) -> Obj:
    """The capability's `partnerUsage`: one row per sandbox that may call it."""
    rows = [{"sandbox": s, "requestsPerSecond": usage.rate.get(s, 0.0),
             "requestsLast30Days": int(round(usage.month.get(s, 0.0)))}
            for s in usage.callers.get((namespace, name), [])]
    return {"scope": "partner", "source": {"rate": RATE_RULE, "month": MONTH_RULE}, "partners": rows}
