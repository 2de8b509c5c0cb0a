"""Patch types (semantic 4: merge, JSON, strategic with merge keys, server-side apply with managedFields and
conflicts) and the status subresource (semantic 5), each named after the kube-apiserver behaviour it mirrors."""

from __future__ import annotations

import yaml

APPLY = "application/apply-patch+yaml"


def _deployment(name: str, containers: list[dict]) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": name}},
                     "template": {"metadata": {"labels": {"a": name}}, "spec": {"containers": containers}}}}


def test_json_merge_patch_merges_maps_and_deletes_with_null(api, ns):
    """kube-apiserver: application/merge-patch+json follows RFC 7386."""
    api.cm(ns, "m", data={"keep": "1", "drop": "2"})
    body = api.patch(f"/api/v1/namespaces/{ns}/configmaps/m", {"data": {"drop": None, "add": "3"}}).json()
    assert body["data"] == {"keep": "1", "add": "3"}


def test_json_patch_applies_operations_and_fails_a_test_op_with_422(api, ns):
    """kube-apiserver: application/json-patch+json follows RFC 6902; a failed `test` is 422."""
    api.cm(ns, "j", data={"a": "1"})
    path = f"/api/v1/namespaces/{ns}/configmaps/j"
    ok = api.patch(path, [{"op": "add", "path": "/data/b", "value": "2"}], ctype="application/json-patch+json")
    assert ok.json()["data"] == {"a": "1", "b": "2"}
    bad = api.patch(path, [{"op": "test", "path": "/data/a", "value": "nope"}], ctype="application/json-patch+json")
    assert bad.status_code == 422


def test_strategic_merge_patch_merges_containers_by_name(api, ns):
    """kube-apiserver: strategic merge patch merges lists with a patchMergeKey (containers by name)."""
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.post(path, _deployment("s", [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}}
    body = api.patch(f"{path}/s", patch, ctype="application/strategic-merge-patch+json").json()
    images = {c["name"]: c["image"] for c in body["spec"]["template"]["spec"]["containers"]}
    assert images == {"a": "a:1", "b": "b:2"}


def test_strategic_merge_patch_on_a_custom_resource_is_415(api, ns, widgets):
    """kube-apiserver: custom resources do not support strategic merge patch (415 UnsupportedMediaType)."""
    api.post(widgets.format(ns=ns), {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                                     "spec": {"size": 1}})
    resp = api.patch(widgets.format(ns=ns) + "/w", {"spec": {"size": 2}}, ctype="application/strategic-merge-patch+json")
    assert resp.status_code == 415


def test_server_side_apply_creates_when_absent_and_records_the_manager(api, ns):
    """kube-apiserver: an apply patch creates a missing object; managedFields records manager and operation Apply."""
    doc = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}})
    resp = api.patch(f"/api/v1/namespaces/{ns}/configmaps/ssa", doc, ctype=APPLY, params={"fieldManager": "alice"})
    assert resp.status_code == 201
    managers = {(m["manager"], m["operation"]) for m in resp.json()["metadata"]["managedFields"]}
    assert ("alice", "Apply") in managers


def test_server_side_apply_conflicts_with_another_manager_unless_forced(api, ns):
    """kube-apiserver: applying a field another manager owns with a different value is 409 Conflict;
    force=true takes the field over."""
    path = f"/api/v1/namespaces/{ns}/configmaps/owned"
    mine = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"}, "data": {"a": "1"}})
    theirs = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"}, "data": {"a": "2"}})
    api.patch(path, mine, ctype=APPLY, params={"fieldManager": "alice"})
    conflict = api.patch(path, theirs, ctype=APPLY, params={"fieldManager": "bob"})
    assert conflict.status_code == 409
    assert conflict.json()["reason"] == "Conflict"
    assert conflict.json()["details"]["causes"][0]["reason"] == "FieldManagerConflict"
    forced = api.patch(path, theirs, ctype=APPLY, params={"fieldManager": "bob", "force": "true"})
    assert forced.status_code == 200 and forced.json()["data"] == {"a": "2"}


def test_server_side_apply_requires_a_field_manager(api, ns):
    """kube-apiserver: apply patches without fieldManager are rejected (422)."""
    doc = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert api.patch(f"/api/v1/namespaces/{ns}/configmaps/x", doc, ctype=APPLY).status_code == 422


def test_writes_to_the_main_resource_leave_status_alone(api, ns, widgets):
    """kube-apiserver: with the status subresource, status in a create/update/patch of the main resource is ignored."""
    path = widgets.format(ns=ns)
    created = api.post(path, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "s"},
                              "spec": {"size": 1}, "status": {"phase": "set-on-create"}}).json()
    assert "status" not in created
    api.patch(f"{path}/s/status", {"status": {"phase": "real"}})
    body = api.patch(f"{path}/s", {"spec": {"size": 2}, "status": {"phase": "ignored"}}).json()
    assert body["status"] == {"phase": "real"}
    assert body["spec"]["size"] == 2


def test_writes_to_status_change_only_status(api, ns, widgets):
    """kube-apiserver: PUT/PATCH on /status ignores everything but status (and does not move generation)."""
    path = widgets.format(ns=ns)
    api.post(path, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "t"}, "spec": {"size": 1}})
    body = api.patch(f"{path}/t/status", {"spec": {"size": 9}, "metadata": {"labels": {"x": "y"}},
                                          "status": {"ready": True}}).json()
    assert body["spec"]["size"] == 1
    assert "labels" not in body["metadata"]
    assert body["status"] == {"ready": True}
    assert body["metadata"]["generation"] == 1


def test_built_in_deployments_have_a_status_subresource(api, ns):
    """kube-apiserver: apps/v1 deployments/status is a subresource; configmaps have none (404)."""
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.post(path, _deployment("st", [{"name": "a", "image": "simulate-fail"}]))
    body = api.patch(f"{path}/st/status", {"status": {"observedGeneration": 7}}).json()
    assert body["status"]["observedGeneration"] == 7
    api.cm(ns, "nostatus")
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/nostatus/status").status_code == 404
