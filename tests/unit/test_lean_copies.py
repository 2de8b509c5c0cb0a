"""What the operator keeps, made cheaper without changing what it does (the session: test_kubeconfig_transport.py).

Covers `finplane.reconcile.runtime.stored_copy` (the store's copy drops managedFields' field sets, but the
evidence recorder still names the same writer of the spec).
"""

from __future__ import annotations

from finplane.reconcile.recorder import spec_writer
from finplane.reconcile.runtime import stored_copy


def _managed(manager: str, time: str, fields: dict[str, object], subresource: str | None = None) -> dict[str, object]:
    entry: dict[str, object] = {"manager": manager, "operation": "Update", "time": time, "fieldsType": "FieldsV1",
                                "fieldsV1": fields}
    if subresource:
        entry["subresource"] = subresource
    return entry


def test_the_stored_copy_drops_field_sets_but_names_the_same_spec_writer() -> None:
    body = {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": "pay", "namespace": "a", "uid": "u1", "generation": 2, "managedFields": [
                _managed("finplane-api", "2026-01-01T00:00:00Z", {"f:spec": {"f:image": {}, "f:owner": {}}}),
                _managed("kubectl-edit", "2026-01-02T00:00:00Z", {"f:spec": {"f:replicas": {}}}),
                _managed("finplane-operator", "2026-01-03T00:00:00Z", {"f:status": {"f:conditions": {}}},
                         subresource="status"),
                _managed("labeller", "2026-01-04T00:00:00Z", {"f:metadata": {"f:labels": {"f:x": {}}}}),
            ]},
            "spec": {"image": "x:1", "replicas": 2}, "status": {"conditions": []}}
    stored = stored_copy(body)
    assert spec_writer(stored) == spec_writer(body)
    assert spec_writer(stored)["manager"] == "kubectl-edit"
    assert all(v == {} for m in stored["metadata"]["managedFields"] for v in m["fieldsV1"].values())
    assert len(repr(stored)) < len(repr(body))
    stored["spec"]["replicas"] = 3
    assert body["spec"]["replicas"] == 2  # a copy, not a view
