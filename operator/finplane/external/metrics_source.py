"""Where a gated canary's burn rate comes from: the `MetricsSource` seam and its Prometheus HTTP implementation.

Called by `reconcile.channel_canary` (one query per gated route per interval); tests pass a fake
`MetricsSource`. `PrometheusSource` asks Prometheus's HTTP API (`/api/v1/query`) for the recording rules
`render.slo` writes: the 5-minute error ratio divided by the error budget of the capability's objective,
`finplane_slo:error:ratio_rate5m / finplane_slo:error_budget:ratio`. Both series carry the same labels
(`namespace`, `capability`, `slo`), so the division matches one to one. An empty result or NaN (no request
over the window) is no data; any transport or HTTP failure is a `MetricsUnavailable` with a short reason
(never the URL's credentials: the message names the host only).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    # Imported when a source is made: httpx's own command line pulls in rich, click and pygments whenever they
    # are installed, ~8 MiB of every operator's idle memory that has no Prometheus configured (issue 19).
    import httpx

__all__ = ["BudgetSource", "MetricsSource", "MetricsUnavailable", "PrometheusSource", "budget_query",
           "burn_rate_query"]


class MetricsUnavailable(Exception):  # noqa: N818 - a state, like kube.errors' NotFound
    """The metrics source could not answer (unreachable, refused, malformed)."""


class MetricsSource(Protocol):
    async def burn_rate(self, *, namespace: str, capability: str, slo: str) -> Decimal | None:
        """The 5-minute burn rate of the capability's objective `slo`; None when there is no data."""
        ...


class BudgetSource(Protocol):
    async def budget_remaining(self, *, namespace: str, capability: str, slo: str) -> Decimal | None:
        """The share of the objective's error budget left over its window (1 untouched, <= 0 spent); None: no data."""
        ...


def budget_query(*, namespace: str, capability: str, slo: str) -> str:
    return f'finplane_slo:error_budget_remaining:ratio{{namespace="{namespace}",capability="{capability}",slo="{slo}"}}'


def burn_rate_query(*, namespace: str, capability: str, slo: str) -> str:
    sel = f'namespace="{namespace}",capability="{capability}",slo="{slo}"'
    return f"finplane_slo:error:ratio_rate5m{{{sel}}} / finplane_slo:error_budget:ratio{{{sel}}}"


class PrometheusSource:
    """Reads burn rates from a Prometheus (or Thanos, Mimir) query endpoint at `url`."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0, transport: httpx.AsyncBaseTransport | None = None):
        import httpx

        self.url = url.rstrip("/")
        self._host = urlsplit(url).hostname or "prometheus"
        self._client = httpx.AsyncClient(timeout=timeout_seconds, transport=transport)

    async def burn_rate(self, *, namespace: str, capability: str, slo: str) -> Decimal | None:
        return await self._scalar(burn_rate_query(namespace=namespace, capability=capability, slo=slo))

    async def budget_remaining(self, *, namespace: str, capability: str, slo: str) -> Decimal | None:
        return await self._scalar(budget_query(namespace=namespace, capability=capability, slo=slo))

    async def _scalar(self, query: str) -> Decimal | None:
        """The first sample of an instant query; None for an empty result or NaN."""
        import httpx

        try:
            response = await self._client.get(f"{self.url}/api/v1/query", params={"query": query})
        except httpx.HTTPError as exc:
            raise MetricsUnavailable(f"Prometheus at {self._host} did not answer ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise MetricsUnavailable(f"Prometheus at {self._host} answered HTTP {response.status_code}")
        try:
            result = response.json()["data"]["result"]
            if not result:
                return None
            value = str(result[0]["value"][1])
        except (ValueError, KeyError, IndexError, TypeError):
            raise MetricsUnavailable(f"Prometheus at {self._host} sent an answer that is not a query result") from None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise MetricsUnavailable(f"Prometheus at {self._host} sent a value that is not a number") from None
        if number.is_nan():
            return None  # 0/0: no request over the window
        return number  # +Inf / -Inf are readings like any other

    async def aclose(self) -> None:
        await self._client.aclose()
