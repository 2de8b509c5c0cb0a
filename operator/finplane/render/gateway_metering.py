"""Render the PrometheusRule that meters partner API usage from the gateway's rate limit service.

Pure: (namespace, source metric, partner label) -> one `monitoring.coreos.com/v1` PrometheusRule, no I/O.
Every call of an active partner on an open-api route matches that partner's per-day rule
(`render.gateway`), so Envoy Gateway's global rate limit service counts it in its hits counter with
the partner's client id (the sandbox name) as a descriptor label value. The recording rules turn
that into usage per partner:

- `finplane:partner_api_requests:rate5m`: calls per second, by partner;
- `finplane:partner_api_requests:increase30d`: calls over the last 30 days (the rolling month), by
  partner; a calendar month is `increase(...[<days>d])` at the month's last instant, as a query.

The source metric and the label holding the descriptor value depend on how the rate limit
service's metrics are exported in an installation; both are parameters. The Helm chart ships the
default groups (charts/finplane/files/partner-metering-groups.yaml, kept equal by
tests/chart/test_chart_metering.py) with its ServiceMonitors; the platform API reads the recorded
series (`GET /api/v1/sandboxes/{name}/usage`). Checked with Prometheus's own `promtool test rules`
(tests/unit/test_gateway_metering.py).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_PARTNER_LABEL", "DEFAULT_SOURCE", "metering_groups", "metering_rule"]

Obj = dict[str, Any]
DEFAULT_SOURCE = "ratelimit_service_rate_limit_total_hits"
DEFAULT_PARTNER_LABEL = "key2"


def metering_groups(*, source: str = DEFAULT_SOURCE, partner_label: str = DEFAULT_PARTNER_LABEL) -> list[Obj]:
    """The rule groups (the part promtool reads), per partner: calls per second and per rolling month."""
    def by_partner(expr: str) -> str:
        return (f'sum by (partner) (label_replace({expr}, "partner", "$1", "{partner_label}", "(.+)"))')

    selector = f'{source}{{{partner_label}=~".+--.+"}}'  # sandbox names are <partner>--<name>
    return [{"name": "finplane-partner-usage", "interval": "1m", "rules": [
        {"record": "finplane:partner_api_requests:rate5m", "expr": by_partner(f"rate({selector}[5m])")},
        {"record": "finplane:partner_api_requests:increase30d", "expr": by_partner(f"increase({selector}[30d])")},
    ]}]


def metering_rule(*, namespace: str, source: str = DEFAULT_SOURCE,
                  partner_label: str = DEFAULT_PARTNER_LABEL) -> Obj:
    """The PrometheusRule object for the Prometheus Operator."""
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "finplane-partner-usage", "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "finplane",
                                    "app.kubernetes.io/component": "partner-metering"}},
            "spec": {"groups": metering_groups(source=source, partner_label=partner_label)}}
