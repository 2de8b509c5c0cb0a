"""Prometheus metrics of the operator: reconciles, durations, errors, drift, readiness by kind.

Imported by the reconcilers (to count) and by `handlers.main` (to serve /metrics).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["API_RETRIES", "DRIFT", "READY", "RECONCILE_DURATION", "RECONCILES", "WRITES"]

RECONCILES = Counter("finplane_reconciles_total", "Reconciles by kind and outcome.", ["kind", "outcome"])
RECONCILE_DURATION = Histogram("finplane_reconcile_duration_seconds", "Reconcile duration by kind.", ["kind"],
                               buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
DRIFT = Counter("finplane_drift_corrections_total", "Children put back after a manual change.", ["kind", "child_kind"])
WRITES = Counter("finplane_child_writes_total", "Children applied or pruned, by kind.", ["kind", "action"])
READY = Gauge("finplane_objects", "Finplane objects by kind and Ready condition status.", ["kind", "ready"])
API_RETRIES = Counter("finplane_api_retries_total",
                      "API requests retried by the gateway after a 429, 5xx or connection error, by status.", ["code"])
