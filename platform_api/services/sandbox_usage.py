"""A partner sandbox's API usage, read from Prometheus: the operator's metering recording rules per client id.

Called by routers/sandboxes.py (``GET /api/v1/sandboxes/{name}/usage``). Whoever may see the sandbox may see
its usage (the partner it names, its requester, admins, auditors). The figures are the recording rules of
finplane.render.gateway_metering for the sandbox's client id (its name, on sandbox and production routes
alike): calls per second over 5 minutes and calls over the rolling 30 days. Without
FINPLANE_API_PROMETHEUS_URL the answer is 503 ``UsageNotConfigured``; a Prometheus that cannot be reached
or answers an error is 503 ``UsageUnavailable`` (never a 500, never a made-up zero).
"""

from __future__ import annotations

from typing import Any

import httpx

from platform_api.auth.identity import Identity
from platform_api.cache import ReadCache
from platform_api.problems import Problem
from platform_api.services import sandboxes as svc
from platform_api.settings import ApiSettings

__all__ = ["RATE_RULE", "MONTH_RULE", "usage"]

RATE_RULE = "finplane:partner_api_requests:rate5m"
MONTH_RULE = "finplane:partner_api_requests:increase30d"


def _unavailable(detail: str) -> Problem:
    return Problem(503, f"Partner usage is unavailable: {detail}", slug="not-ready", reason="UsageUnavailable",
                   headers={"Retry-After": "30"})


async def _instant(client: httpx.AsyncClient, base: str, query: str) -> float:
    try:
        resp = await client.get(f"{base.rstrip('/')}/api/v1/query", params={"query": query})
    except httpx.HTTPError as exc:
        raise _unavailable(f"Prometheus could not be reached ({type(exc).__name__}).") from None
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    if resp.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
        raise _unavailable(f"Prometheus answered {resp.status_code} to the usage query.")
    result = (body.get("data") or {}).get("result") or []
    try:
        return sum(float(r["value"][1]) for r in result)  # no series: no calls metered
    except (KeyError, IndexError, TypeError, ValueError):
        raise _unavailable("Prometheus answered a result that is not an instant vector.") from None


async def usage(*, identity: Identity, cache: ReadCache, settings: ApiSettings, name: str) -> dict[str, Any]:
    obj = svc.get(identity=identity, cache=cache, name=name)
    if not settings.prometheus_url:
        raise Problem(503, "Partner usage is not configured: set FINPLANE_API_PROMETHEUS_URL to the Prometheus that "
                      "evaluates Finplane's metering rules.", slug="not-ready", reason="UsageNotConfigured")
    selector = f'{{partner="{name}"}}'  # name is a DNS name (route pattern): nothing to escape
    async with httpx.AsyncClient(timeout=settings.prometheus_timeout_seconds) as client:
        rate = await _instant(client, settings.prometheus_url, RATE_RULE + selector)
        month = await _instant(client, settings.prometheus_url, MONTH_RULE + selector)
    partner = ((obj.get("spec") or {}).get("partner") or {}).get("name")
    return {"name": name, "partner": partner, "requestsPerSecond": rate, "requestsLast30Days": int(round(month)),
            "source": {"rate": RATE_RULE, "month": MONTH_RULE}}
