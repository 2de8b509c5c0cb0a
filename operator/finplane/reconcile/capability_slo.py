"""Apply a capability's SLO children (ServiceMonitor, PrometheusRule) and say so in `SLORulesWritten`.

Called once per pass by `reconcile.capability` after the workload is applied. The two children are
written only when the API server serves both monitoring.coreos.com kinds (the Prometheus Operator's
CRDs): otherwise `SLORulesWritten=False` / `CRDMissing` and nothing is written, so there is never a
ServiceMonitor without its alerts. The condition does not gate Ready: the workload runs either way.
When `spec.slo` is removed, the children are pruned (only for a capability whose status shows it had
SLO children, so capabilities without SLOs cost no request at all).

`service_level` reports the budget left (`ServiceLevel`) when FINPLANE_PROMETHEUS_URL is set: one query of
`finplane_slo:error_budget_remaining:ratio` per objective and pass (refreshed on every pass, at least each
drift interval). True while every objective has budget left, False / `BudgetExhausted` when one has spent it,
Unknown when Prometheus has no data or does not answer. It never gates Ready either.
"""

from __future__ import annotations

from decimal import Decimal

from finplane.external.metrics_source import BudgetSource, MetricsUnavailable
from finplane.kube.errors import KubeError, NotFound
from finplane.kube.resources import register
from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.names import OWNER_LABEL
from finplane.reconcile.shape import Pass
from finplane.render.slo import MONITORING_KINDS, render_slo
from finplane.status.conditions import Cond
from finplane.status.vocabulary import Reason, condition_of

__all__ = ["SERVICE_LEVEL", "SLO_RULES_WRITTEN", "apply_slo", "service_level"]

#: The condition types this module owns on a BusinessCapability.
SLO_RULES_WRITTEN = "SLORulesWritten"
SERVICE_LEVEL = "ServiceLevel"

register("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", namespaced=True)
register("monitoring.coreos.com", "v1", "prometheusrules", "PrometheusRule", namespaced=True)


def _not_served(exc: KubeError) -> bool:
    """A 404 for the resource itself (its CRD is not installed), not for one object."""
    return isinstance(exc, NotFound) and not (exc.body.get("details") or {}).get("name")


async def apply_slo(p: Pass[BusinessCapabilitySpec]) -> Cond | None:
    """Write (or prune) the SLO children of one capability; the condition to report, None without spec.slo."""
    ns, name = p.key
    desired = render_slo(name=name, namespace=ns, spec=p.spec, settings=p.settings)
    if not desired:
        if condition_of(p.body, SLO_RULES_WRITTEN) is not None:
            try:
                await p.apply([], prune_kinds=MONITORING_KINDS, prune_namespaces=(ns,), refuse=False, cached=False)
            except KubeError as exc:
                if not _not_served(exc):
                    raise  # a temporary failure: the controller retries; nothing is left unsaid
        return None
    for api_version, kind in MONITORING_KINDS:  # both served, or nothing written
        try:
            await p.kube.list(api_version, kind, ns, label_selector=f"{OWNER_LABEL}={p.uid}")
        except KubeError as exc:
            if not _not_served(exc):
                raise
            return Cond(SLO_RULES_WRITTEN, "False", Reason.CRD_MISSING,
                        f"{kind} ({api_version}) is not served: install the Prometheus Operator's CRDs to get the "
                        "ServiceMonitor and the burn-rate alerts of spec.slo; nothing of them was written")
    result = await p.apply(desired, refuse=False, cached=False)
    if result.conflicts:
        return Cond(SLO_RULES_WRITTEN, "False", Reason.NAME_CONFLICT,
                    f"{', '.join(result.conflicts)} already exists and is not managed by this capability; "
                    "nothing was written: remove or rename that object")
    if result.refused is not None:
        return Cond(SLO_RULES_WRITTEN, "False", result.refused.reason,
                    f"the API server refused {result.refused.child}: {result.refused.message}"[:512])
    groups = desired[1]["spec"]["groups"]
    alerts = sum(1 for g in groups for r in g["rules"] if "alert" in r)
    return Cond(SLO_RULES_WRITTEN, "True", Reason.WRITTEN,
                f"ServiceMonitor and PrometheusRule {name} written: {alerts} burn-rate alert(s) routed to team "
                f"{p.spec.owner.team}")


async def service_level(p: Pass[BusinessCapabilitySpec], source: BudgetSource | None) -> Cond | None:
    """The budget left of each objective as the `ServiceLevel` condition; None without spec.slo or a source."""
    slo = p.spec.slo
    if slo is None or source is None:
        return None
    ns, name = p.key
    objectives = [sli for sli, o in (("availability", slo.availability), ("latency", slo.latency)) if o is not None]
    left: dict[str, Decimal] = {}
    for sli in objectives:
        try:
            value = await source.budget_remaining(namespace=ns, capability=name, slo=sli)
        except MetricsUnavailable as exc:
            return Cond(SERVICE_LEVEL, "Unknown", "MetricsUnavailable", f"no budget reading: {exc}")
        if value is None:
            return Cond(SERVICE_LEVEL, "Unknown", "NoData", f"Prometheus has no {sli} error budget series for "
                        f"{ns}/{name} yet (no requests scraped, or the PrometheusRule is not loaded)")
        left[sli] = value
    said = "; ".join(f"{sli} {format((v * 100).quantize(Decimal('0.1')), 'f')}% of the {slo.window_days}-day error "
                     "budget left" for sli, v in left.items())
    if any(v <= 0 for v in left.values()):
        return Cond(SERVICE_LEVEL, "False", "BudgetExhausted", said)
    return Cond(SERVICE_LEVEL, "True", "BudgetLeft", said)
