"""The lean diff-base storage builds exactly the essence kopf's stock storage builds."""

from __future__ import annotations

import copy

import kopf

from finplane import GROUP
from finplane.handlers.kopf_tuning import LeanDiffBaseStorage


def _body(kind: str = "Deployment") -> dict:
    return {
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {
            "name": "cap-1", "namespace": "team-a", "uid": "u-1", "resourceVersion": "42", "generation": 3,
            "labels": {"app.kubernetes.io/managed-by": "finplane", "finplane.io/owner-uid": "o-1"},
            "annotations": {"finplane.io/rendered-hash": "abc", f"{GROUP}/last-handled-configuration": "{}",
                            "kubectl.kubernetes.io/last-applied-configuration": "{}", "note": "kept"},
            "ownerReferences": [{"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
                                 "name": "cap-1", "uid": "o-1", "controller": True}],
            "managedFields": [{"manager": "finplane-operator", "operation": "Apply",
                               "fieldsV1": {"f:spec": {"f:replicas": {}}}}],
        },
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "x:1"}]}}},
        "status": {"readyReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]},
    }


def test_same_essence_as_kopf_for_children_and_capabilities() -> None:
    stock = kopf.AnnotationsDiffBaseStorage(prefix=GROUP, key="last-handled-configuration")
    lean = LeanDiffBaseStorage(prefix=GROUP, key="last-handled-configuration")
    for kind in ("Deployment", "ReplicaSet", "BusinessCapability"):
        raw = _body(kind)
        if kind == "ReplicaSet":
            raw["metadata"]["ownerReferences"][0]["kind"] = "Deployment"  # kopf's special storage key
        before = copy.deepcopy(raw)
        assert lean.build(body=kopf.Body(raw)) == stock.build(body=kopf.Body(raw))
        assert raw == before  # the body is not modified


def test_extra_fields_get_the_stock_behaviour() -> None:
    stock = kopf.AnnotationsDiffBaseStorage(prefix=GROUP, key="last-handled-configuration")
    lean = LeanDiffBaseStorage(prefix=GROUP, key="last-handled-configuration")
    raw = _body()
    fields = [("status", "readyReplicas"), ("metadata", "generation")]
    got = lean.build(body=kopf.Body(raw), extra_fields=fields)
    assert got == stock.build(body=kopf.Body(raw), extra_fields=fields)
    assert got["status"] == {"readyReplicas": 1}


def test_essence_is_independent_of_the_body() -> None:
    lean = LeanDiffBaseStorage(prefix=GROUP, key="last-handled-configuration")
    raw = _body()
    essence = lean.build(body=kopf.Body(raw))
    raw["spec"]["replicas"] = 9
    raw["metadata"]["labels"]["new"] = "x"
    assert essence["spec"]["replicas"] == 2 and "new" not in essence["metadata"]["labels"]


def test_lean_progress_storage_clears_what_kopfs_clears() -> None:
    from finplane.handlers.kopf_tuning import LeanProgressStorage

    stock = kopf.AnnotationsProgressStorage(prefix=GROUP)
    lean_store = LeanProgressStorage(prefix=GROUP)
    essence = LeanDiffBaseStorage(prefix=GROUP, key="last-handled-configuration").build(body=kopf.Body(_body()))
    essence["metadata"]["annotations"][f"{GROUP}/some-handler"] = '{"retries": 1}'  # kopf's own progress
    expected = stock.clear(essence=copy.deepcopy(essence))
    assert lean_store.clear(essence=essence) == expected
    assert f"{GROUP}/some-handler" not in expected.get("metadata", {}).get("annotations", {})
