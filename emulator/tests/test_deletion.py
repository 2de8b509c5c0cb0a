"""Deletion (semantic 8): finalizers and deletionTimestamp, owner-reference garbage collection in background,
foreground and orphan modes, and namespace deletion, each mirroring the kube-apiserver and its controllers."""

from __future__ import annotations

import time


def _wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _owned_cm(api, ns, name, owner, *, block: bool = False):
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return api.cm(ns, name, ownerReferences=[ref])


def test_finalizers_keep_a_deleted_object_until_the_last_one_is_removed(api, ns):
    """kube-apiserver: DELETE on an object with finalizers only sets deletionTimestamp (and bumps generation
    where the kind tracks one, as BeforeDelete does); removing the last finalizer deletes it."""
    path = f"/api/v1/namespaces/{ns}/configmaps/f"
    api.cm(ns, "f", finalizers=["example.com/cleanup"])
    marked = api.delete(path).json()
    assert marked["metadata"]["deletionTimestamp"]
    assert "generation" not in marked["metadata"]
    policies = f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"
    api.post(policies, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": {"name": "p", "finalizers": ["example.com/cleanup"]}, "spec": {"podSelector": {}}})
    assert api.delete(f"{policies}/p").json()["metadata"]["generation"] == 2
    assert api.get(path).status_code == 200
    refused = api.patch(path, {"metadata": {"finalizers": ["example.com/cleanup", "other"]}})
    assert refused.status_code == 422
    api.patch(path, {"metadata": {"finalizers": None}})
    assert api.get(path).status_code == 404


def test_background_propagation_deletes_dependents_after_the_owner(api, ns):
    """kube-controller-manager's garbage collector: dependents whose owners are all gone are deleted."""
    owner = api.cm(ns, "owner").json()
    _owned_cm(api, ns, "child", owner)
    api.delete(f"/api/v1/namespaces/{ns}/configmaps/owner")
    assert _wait(lambda: api.get(f"/api/v1/namespaces/{ns}/configmaps/child").status_code == 404)


def test_a_dependent_with_another_live_owner_survives(api, ns):
    """garbage collector: an object is collected only when none of its owners exist."""
    a, b = api.cm(ns, "oa").json(), api.cm(ns, "ob").json()
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]}
            for o in (a, b)]
    api.cm(ns, "shared", ownerReferences=refs)
    api.delete(f"/api/v1/namespaces/{ns}/configmaps/oa")
    time.sleep(0.3)
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/shared").status_code == 200


def test_foreground_propagation_deletes_blocking_dependents_before_the_owner(api, ns):
    """kube-apiserver: propagationPolicy=Foreground adds the foregroundDeletion finalizer; the owner goes
    only after its blockOwnerDeletion dependents are gone."""
    owner = api.cm(ns, "fg").json()
    _owned_cm(api, ns, "fg-child", owner, block=True)
    api.patch(f"/api/v1/namespaces/{ns}/configmaps/fg-child", {"metadata": {"finalizers": ["hold"]}})
    marked = api.delete(f"/api/v1/namespaces/{ns}/configmaps/fg", {"propagationPolicy": "Foreground"}).json()
    assert "foregroundDeletion" in marked["metadata"]["finalizers"]
    time.sleep(0.3)
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/fg").status_code == 200  # blocked by the child
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/fg-child").json()["metadata"]["deletionTimestamp"]
    api.patch(f"/api/v1/namespaces/{ns}/configmaps/fg-child", {"metadata": {"finalizers": None}})
    assert _wait(lambda: api.get(f"/api/v1/namespaces/{ns}/configmaps/fg").status_code == 404)


def test_orphan_propagation_keeps_dependents_and_drops_their_owner_reference(api, ns):
    """kube-apiserver: propagationPolicy=Orphan leaves dependents in place without the owner reference."""
    owner = api.cm(ns, "orph").json()
    _owned_cm(api, ns, "kept", owner)
    api.delete(f"/api/v1/namespaces/{ns}/configmaps/orph", params={"propagationPolicy": "Orphan"})
    time.sleep(0.3)
    kept = api.get(f"/api/v1/namespaces/{ns}/configmaps/kept").json()
    assert "ownerReferences" not in kept["metadata"]


def test_objects_whose_owner_never_existed_are_collected(api, ns):
    """garbage collector: an owner reference to a uid that does not exist is dangling; the dependent goes."""
    api.cm(ns, "dangling", ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
                                             "uid": "00000000-0000-0000-0000-000000000000"}])
    assert _wait(lambda: api.get(f"/api/v1/namespaces/{ns}/configmaps/dangling").status_code == 404)


def test_deleting_a_namespace_terminates_it_then_removes_everything_inside(api, ns):
    """kube-apiserver + namespace controller: the namespace turns Terminating, refuses new content (403),
    its objects are deleted (finalizers respected), then the namespace itself goes."""
    api.cm(ns, "a")
    api.cm(ns, "held", finalizers=["example.com/hold"])
    body = api.delete(f"/api/v1/namespaces/{ns}").json()
    assert body["status"]["phase"] == "Terminating"
    refused = api.cm(ns, "late")
    assert refused.status_code == 403 and refused.json()["reason"] == "Forbidden"
    assert _wait(lambda: api.get(f"/api/v1/namespaces/{ns}/configmaps/a").status_code == 404)
    assert api.get(f"/api/v1/namespaces/{ns}").status_code == 200  # held by the finalizer inside
    api.patch(f"/api/v1/namespaces/{ns}/configmaps/held", {"metadata": {"finalizers": None}})
    assert _wait(lambda: api.get(f"/api/v1/namespaces/{ns}").status_code == 404)


def test_delete_collection_deletes_what_the_selector_matches(api, ns):
    """kube-apiserver: DELETE on a collection with labelSelector deletes the matching objects only."""
    api.cm(ns, "x1", labels={"batch": "1"})
    api.cm(ns, "x2", labels={"batch": "1"})
    api.cm(ns, "y", labels={"batch": "2"})
    api.delete(f"/api/v1/namespaces/{ns}/configmaps", params={"labelSelector": "batch=1"})
    names = [i["metadata"]["name"] for i in api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["items"]]
    assert names == ["y"]
