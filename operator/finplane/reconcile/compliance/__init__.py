"""The CompliancePolicy kind, which spans several modules: its reconciler and what it is made of.

`reconciler` (the KindReconciler: evaluate -> evidence -> reports -> admission policies -> rollup ->
status), `context` (the subjects a policy selects), `evidence` (the hash-chained log's entries for
result changes and waivers), `rollup` (the Compliant condition written onto selected objects).
Added to the runtime by `handlers.registrations`.
"""

from finplane.reconcile.compliance.reconciler import KIND, ComplianceReconciler, ComplianceState

__all__ = ["ComplianceReconciler", "ComplianceState", "KIND"]
