"""Render a capability's `spec.slo` into a ServiceMonitor and a PrometheusRule (burn-rate alerts to its owner).

Pure: (name, namespace, spec, settings) -> complete manifests, no I/O. Called by the capability
reconciler (`reconcile.capability_slo`, only when the monitoring.coreos.com CRDs are served) and by
tests that feed the rules to Prometheus's own `promtool`. The NetworkPolicy allowance that lets
Prometheus scrape the pods is `metrics_ingress`, added by `render.capability` to the capability's
own allow policy (the capability consents by declaring an SLO).

The rules follow the SRE workbook ("Alerting on SLOs", multiwindow, multi-burn-rate): for each SLI
the error ratio is recorded over 5m, 30m, 1h, 2h, 6h, 1d, 3d and the SLO window; a page fires when
both the 1h and 5m ratios exceed 14.4 times the budget (2% of a 30-day budget in an hour) or both the
6h and 30m ratios exceed 6 times it (5% in six hours); a ticket when 1d and 2h exceed 3 times, or 3d
and 6h exceed once (10% of the budget in a day or in three days). The factors scale with the window
(`burn_factor`). Every alert carries the owner's team and contact, the capability and its namespace,
so an Alertmanager route on `team` (or `contact`) reaches the owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.slo import ServiceLevelObjectives, budget_of
from finplane.render.labels import capability_labels, selector_labels
from finplane.settings import Settings

__all__ = ["BURN_WINDOWS", "MONITORING_KINDS", "RECORDED_WINDOWS", "BurnWindow", "burn_factor", "le_values",
           "metrics_ingress", "render_slo", "rule_groups"]

Obj = dict[str, Any]
MONITORING = "monitoring.coreos.com/v1"
#: The kinds this renderer writes (pruned when spec.slo goes away).
MONITORING_KINDS = ((MONITORING, "ServiceMonitor"), (MONITORING, "PrometheusRule"))
RECORD_ERROR = "finplane_slo:error:ratio_rate"
RECORD_OBJECTIVE = "finplane_slo:objective:ratio"
RECORD_BUDGET = "finplane_slo:error_budget:ratio"
RECORD_REMAINING = "finplane_slo:error_budget_remaining:ratio"


@dataclass(frozen=True)
class BurnWindow:
    """One alerting condition: both windows burn faster than `budget_share` of the budget in `long`."""

    severity: str  # "page" or "ticket"
    long: str
    short: str
    long_hours: int
    budget_share: Decimal


BURN_WINDOWS = (
    BurnWindow("page", "1h", "5m", 1, Decimal("0.02")),
    BurnWindow("page", "6h", "30m", 6, Decimal("0.05")),
    BurnWindow("ticket", "1d", "2h", 24, Decimal("0.10")),
    BurnWindow("ticket", "3d", "6h", 72, Decimal("0.10")),
)
RECORDED_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def burn_factor(window: BurnWindow, window_days: int) -> Decimal:
    """How many times faster than sustainable the budget burns: 14.4, 6, 3 and 1 for a 30-day window."""
    exact = window.budget_share * window_days * 24 / window.long_hours
    return exact.quantize(Decimal("0.0001")).normalize()


def le_values(threshold_milliseconds: int) -> tuple[str, ...]:
    """The spellings of a bucket boundary clients write for `le`: "0.3", and "1" or "1.0" for whole seconds."""
    seconds = (Decimal(threshold_milliseconds) / 1000).normalize()
    plain = format(seconds, "f")
    forms = {plain}
    if "." not in plain:
        forms.add(plain + ".0")
    return tuple(sorted(forms))


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _error_expr(slo: ServiceLevelObjectives, sli: str, namespace: str, name: str, window: str) -> str:
    m = slo.metrics
    sel = f'namespace="{namespace}",service="{name}"'
    if sli == "availability":
        return (f'(sum(rate({m.requests_total}{{{sel},{m.status_code_label}=~"5.."}}[{window}])) or vector(0))\n'
                f"/\nsum(rate({m.requests_total}{{{sel}}}[{window}]))")
    assert slo.latency is not None
    le = "|".join(v.replace(".", "\\\\.") for v in le_values(slo.latency.threshold_milliseconds))
    return (f'1 - (\n  sum(rate({m.duration_histogram}_bucket{{{sel},le=~"{le}"}}[{window}]))\n'
            f"  /\n  sum(rate({m.duration_histogram}_count{{{sel}}}[{window}]))\n)")


def _objectives(slo: ServiceLevelObjectives) -> list[tuple[str, str]]:
    out = []
    if slo.availability is not None:
        out.append(("availability", slo.availability.objective_percent))
    if slo.latency is not None:
        out.append(("latency", slo.latency.objective_percent))
    return out


def rule_groups(*, name: str, namespace: str, spec: BusinessCapabilitySpec) -> list[Obj]:
    """The Prometheus rule groups (a rule file's `groups`) of the capability's SLOs; [] without spec.slo."""
    slo = spec.slo
    if slo is None:
        return []
    days = slo.window_days
    groups: list[Obj] = []
    for sli, objective in _objectives(slo):
        series = {"namespace": namespace, "capability": name, "slo": sli}
        sel = ",".join(f'{k}="{v}"' for k, v in series.items())
        budget = budget_of(objective)
        records: list[Obj] = [
            {"record": f"{RECORD_ERROR}{w}", "expr": _error_expr(slo, sli, namespace, name, w), "labels": dict(series)}
            for w in (*RECORDED_WINDOWS, f"{days}d")]
        records += [
            {"record": RECORD_OBJECTIVE, "expr": f"vector({_num(1 - budget)})", "labels": dict(series)},
            {"record": RECORD_BUDGET, "expr": f"vector({_num(budget)})", "labels": dict(series)},
            {"record": RECORD_REMAINING, "expr": f"1 - ({RECORD_ERROR}{days}d{{{sel}}} / {_num(budget)})",
             "labels": dict(series)},
        ]
        alerts = [_alert(severity, sli, objective, days, sel, budget, spec, series)
                  for severity in ("page", "ticket")]
        groups.append({"name": f"finplane-slo.{namespace}.{name}.{sli}", "rules": [*records, *alerts]})
    return groups


def _alert(severity: str, sli: str, objective: str, days: int, sel: str, budget: Decimal,
           spec: BusinessCapabilitySpec, series: dict[str, str]) -> Obj:
    pairs = [w for w in BURN_WINDOWS if w.severity == severity]
    terms = []
    described = []
    for w in pairs:
        factor = _num(burn_factor(w, days))
        threshold = f"({factor} * {_num(budget)})"
        terms.append(f"(\n  {RECORD_ERROR}{w.long}{{{sel}}} > {threshold}\nand\n"
                     f"  {RECORD_ERROR}{w.short}{{{sel}}} > {threshold}\n)")
        described.append(f"{factor}x over {w.long} and {w.short}")
    title = "Availability" if sli == "availability" else "Latency"
    who = f"{series['namespace']}/{series['capability']}"
    return {
        "alert": f"Capability{title}BudgetBurn",
        "expr": "\nor\n".join(terms),
        "labels": {"severity": severity, "team": spec.owner.team, "contact": spec.owner.contact, **series},
        "annotations": {
            "summary": f"{who} burns its {sli} error budget ({severity})",
            "description": f"{who} is burning its {days}-day {sli} error budget (objective {objective}%) faster "
                           f"than {' or '.join(described)}; owner {spec.owner.team}, contact {spec.owner.contact}.",
        },
    }


def render_slo(*, name: str, namespace: str, spec: BusinessCapabilitySpec, settings: Settings) -> list[Obj]:
    """The ServiceMonitor and PrometheusRule of the capability's SLOs; [] without spec.slo."""
    slo = spec.slo
    if slo is None:
        return []
    labels = {**capability_labels(name=name, team=spec.owner.team, domain=spec.domain,
                                  classification=str(spec.data_classification), version=None),
              **settings.monitoring_labels}

    def meta() -> Obj:
        return {"name": name, "namespace": namespace, "labels": dict(labels)}

    monitor = {"apiVersion": MONITORING, "kind": "ServiceMonitor", "metadata": meta(), "spec": {
        "selector": {"matchLabels": selector_labels(name)},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [{"port": "http", "path": slo.metrics.path, "interval": "30s", "scheme": "http"}],
    }}
    rule = {"apiVersion": MONITORING, "kind": "PrometheusRule", "metadata": meta(),
            "spec": {"groups": rule_groups(name=name, namespace=namespace, spec=spec)}}
    return [monitor, rule]


def metrics_ingress(spec: BusinessCapabilitySpec, settings: Settings) -> list[Obj]:
    """The ingress rule letting Prometheus (its namespace) scrape the capability's port; [] without spec.slo."""
    if spec.slo is None:
        return []
    return [{"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": settings.prometheus_namespace}}}],
        "ports": [{"protocol": "TCP", "port": spec.port}]}]
