"""The chart ships the partner metering PrometheusRule with its ServiceMonitors, rule for rule what
finplane.render.gateway_metering renders (and promtool checks in tests/unit/test_gateway_metering.py)."""

from __future__ import annotations

from finplane.render.gateway_metering import metering_groups
from tests.support.chart import VALUE_SETS, find, render


def test_the_chart_ships_the_metering_rules_the_operator_renders() -> None:
    (rule,) = find(render(VALUE_SETS["servicemonitor"]), "PrometheusRule", "finplane-partner-usage")
    assert rule["spec"]["groups"] == metering_groups()
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus"  # the Prometheus selects it


def test_without_the_prometheus_operator_no_rule_is_rendered() -> None:
    assert find(render(VALUE_SETS["default"]), "PrometheusRule", "finplane-partner-usage") == []
