"""The chart's Grafana dashboards: ConfigMaps for the sidecar, and every metric they chart is one Finplane exports.

Covers: with dashboards.enabled the chart renders one ConfigMap per dashboard (operator, API, compliance,
registry credentials) carrying the sidecar's label and the dashboard JSON unchanged; off by default; every
metric name in every PromQL expression is one the operator or the API registers (with the suffixes
Prometheus gives counters and histograms) or one of the SLO recording rules Finplane renders, so a renamed
metric breaks this test rather than a dashboard; the name extractor itself catches an unknown metric.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

import finplane.metrics
import finplane.reconcile.compliance.reconciler
import finplane.reconcile.registry.creds  # noqa: F401 - registers the credential gauges
from finplane.render import slo
from platform_api.metrics import ApiMetrics
from tests.support.chart import find, render

DASHBOARDS = Path(__file__).resolve().parents[2] / "charts" / "finplane" / "files" / "dashboards"
assert finplane.metrics and finplane.reconcile.compliance.reconciler
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "inf", "nan"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "gauge": ("",), "summary": ("_count", "_sum", "_created"), "info": ("_info",)}


def exported(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
    return names


def finplane_metrics() -> set[str]:
    recorded = {slo.RECORD_OBJECTIVE, slo.RECORD_BUDGET, slo.RECORD_REMAINING,
                *(slo.RECORD_ERROR + w for w in slo.RECORDED_WINDOWS)}
    return {n for n in exported(REGISTRY) | exported(ApiMetrics().registry) if n.startswith("finplane_")} | recorded


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (not functions, keywords, labels, strings or durations)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        rest = text[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        if m.start() > 0 and (text[m.start() - 1].isdigit() or text[m.start() - 1] == "."):
            continue  # a unit of a number like 1e3
        names.add(m.group(0))
    return names


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def expressions(board: dict[str, Any]) -> list[str]:
    return [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]


def test_there_are_dashboards_for_the_operator_the_api_compliance_and_credentials() -> None:
    boards = dashboards()
    assert set(boards) == {"operator", "api", "compliance", "credentials"}
    assert len({b["uid"] for b in boards.values()}) == 4
    assert all(expressions(b) for b in boards.values())


@pytest.mark.parametrize("name", ["operator", "api", "compliance", "credentials"])
def test_every_metric_a_dashboard_charts_is_one_finplane_exports(name: str) -> None:
    known = finplane_metrics()
    used = {n for e in expressions(dashboards()[name]) for n in metric_names(e)}
    assert used, "no metric found: the extractor is broken"
    assert used <= known, f"{name}.json uses metrics Finplane does not export: {sorted(used - known)}"


def test_the_extractor_finds_an_unknown_metric_among_functions_labels_and_ranges() -> None:
    expr = 'histogram_quantile(0.99, sum by (le, route) (rate(finplane_nope_bucket{route=~"/a.*"}[5m]))) > 1e3'
    assert metric_names(expr) == {"finplane_nope_bucket"}
    assert "finplane_nope_bucket" not in finplane_metrics()


def test_the_chart_renders_one_configmap_per_dashboard_for_the_sidecar() -> None:
    maps = [m for m in find(render({"dashboards": {"enabled": True}}), "ConfigMap") if "-dashboard-" in
            m["metadata"]["name"]]
    assert len(maps) == 4
    for m in maps:
        assert m["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((key, text),) = m["data"].items()
        assert json.loads(text) == dashboards()[key.removeprefix("finplane-").removesuffix(".json")]


def test_dashboards_are_off_by_default() -> None:
    assert [m for m in find(render({}), "ConfigMap") if "-dashboard-" in m["metadata"]["name"]] == []
