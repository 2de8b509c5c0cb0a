"""Service-level objectives of a BusinessCapability (`spec.slo`): availability and latency over a window.

Pure. `BusinessCapabilitySpec.slo` holds a `ServiceLevelObjectives`; `render.slo` turns it into a
ServiceMonitor and a PrometheusRule (error-budget recording rules and multi-window, multi-burn-rate
alerts). Objectives are percentages written as strings ("99.9"), as the Kubernetes API conventions
prefer over floats, and kept below 100 so that there is always an error budget to burn.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from finplane.models.common import SpecModel, cel

__all__ = ["METRIC_NAME", "OBJECTIVE_PATTERN", "AvailabilityObjective", "LatencyObjective", "MetricsSource",
           "ServiceLevelObjectives", "budget_of"]

#: 50 to 99.9999 percent: an objective of 100 leaves no error budget (every burn rate divides by it).
OBJECTIVE_PATTERN = r"^[5-9][0-9](\.[0-9]{1,4})?$"
#: A Prometheus metric name.
METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"

Objective = Annotated[str, StringConstraints(pattern=OBJECTIVE_PATTERN, max_length=7)]
MetricName = Annotated[str, StringConstraints(pattern=METRIC_NAME, max_length=128)]


def budget_of(objective: str) -> Decimal:
    """The error budget of an objective: "99.9" -> 0.001 (exact, no float rounding in the rules)."""
    return ((Decimal(100) - Decimal(objective)) / Decimal(100)).normalize()


class AvailabilityObjective(SpecModel):
    """The share of requests that must not fail (a 5xx status code is a failure)."""

    objective_percent: Objective = Field(description="Percent of requests that succeed, e.g. \"99.9\" "
                                                     "(50 to 99.9999).")


class LatencyObjective(SpecModel):
    """The share of requests that must be answered within a threshold."""

    objective_percent: Objective = Field(description="Percent of requests faster than the threshold, e.g. \"99\" "
                                                     "(50 to 99.9999).")
    threshold_milliseconds: int = Field(
        ge=1, le=60000, description="Latency threshold; it must be a bucket boundary of the duration histogram "
                                    "(300 ms is the bucket le=\"0.3\").")


def _defaults_in_the_model_only(schema: dict[str, Any]) -> None:
    """Leave the defaults out of the CRD (the model applies them): the API server would store them, and a
    server-side apply removing `spec.slo` would then leave `slo` behind holding only those unowned defaults, an
    SLO without objectives that the CEL rule refuses, so nobody could remove an SLO by apply."""
    for prop in (schema.get("properties") or {}).values():
        prop.pop("default", None)


def _slo_schema(schema: dict[str, Any]) -> None:
    schema.update(cel(("has(self.availability) || has(self.latency)",
                       "an SLO needs an availability or a latency objective")))
    _defaults_in_the_model_only(schema)


class MetricsSource(SpecModel):
    """Where the workload's request metrics are scraped and what they are called."""

    model_config = ConfigDict(json_schema_extra=_defaults_in_the_model_only)

    path: str = Field(default="/metrics", pattern=r"^/[^\s?#]*$", max_length=256,
                      description="HTTP path of the Prometheus metrics on the capability's port (default /metrics).")
    requests_total: MetricName = Field(default="http_requests_total",
                                       description="Counter of requests, with a status code label (default http_requests_total).")
    status_code_label: MetricName = Field(default="code", description="Label of requestsTotal holding the HTTP "
                                                                      "status code (5xx counts as an error; default code).")
    duration_histogram: MetricName = Field(default="http_request_duration_seconds",
                                           description="Histogram of request durations in seconds (its _bucket "
                                                       "and _count series are used; default http_request_duration_seconds).")


class ServiceLevelObjectives(SpecModel):
    """Availability and latency objectives over a rolling window, alerting the owner when the budget burns."""

    model_config = ConfigDict(json_schema_extra=_slo_schema)

    window_days: int = Field(default=30, ge=7, le=90,
                             description="Rolling window of the objectives, in days (default 30); the burn-rate thresholds "
                                         "scale with it (30 days gives the SRE workbook's 14.4, 6, 3 and 1).")
    availability: AvailabilityObjective | None = Field(default=None, description="Availability objective.")
    latency: LatencyObjective | None = Field(default=None, description="Latency objective.")
    metrics: MetricsSource = Field(default_factory=MetricsSource,
                                   description="The workload's request metrics (defaults: Prometheus client names).")

    @model_validator(mode="after")
    def _some_objective(self) -> ServiceLevelObjectives:
        if self.availability is None and self.latency is None:
            raise ValueError("an SLO needs an availability or a latency objective")
        return self
