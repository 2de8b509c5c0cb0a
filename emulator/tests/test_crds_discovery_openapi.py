"""Discovery (semantic 1), CRD installation and schema validation with 422 errors (semantic 9), Tables and the
OpenAPI v3 documents kubectl needs, each mirroring the kube-apiserver / apiextensions-apiserver."""

from __future__ import annotations


def test_discovery_lists_core_and_group_versions_with_short_names_and_status(api):
    """kube-apiserver: /api, /apis and /apis/G/V describe resources, verbs, shortNames and subresources."""
    assert api.get("/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in api.get("/apis").json()["groups"]}
    assert {"apps", "networking.k8s.io", "rbac.authorization.k8s.io", "policy", "autoscaling", "coordination.k8s.io",
            "events.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io"} <= groups
    core = {r["name"]: r for r in api.get("/api/v1").json()["resources"]}
    assert core["namespaces"]["namespaced"] is False and core["namespaces"]["shortNames"] == ["ns"]
    assert core["configmaps"]["shortNames"] == ["cm"] and "watch" in core["configmaps"]["verbs"]
    apps = {r["name"]: r for r in api.get("/apis/apps/v1").json()["resources"]}
    assert apps["deployments/status"]["verbs"] == ["get", "patch", "update"]
    version = api.get("/version").json()
    assert (version["major"], version["minor"]) == ("1", "32")


def test_a_created_crd_is_established_and_served_with_its_names(api, widgets):
    """apiextensions-apiserver: a new CRD gets NamesAccepted/Established conditions and appears in discovery."""
    crd = api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").json()
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    resources = {r["name"]: r for r in api.get("/apis/example.com/v1").json()["resources"]}
    assert resources["widgets"]["shortNames"] == ["wd"]
    assert resources["widgets"]["categories"] == ["finplane"]
    assert "widgets/status" in resources


def test_a_crd_named_unlike_its_plural_and_group_is_rejected(api):
    """apiextensions-apiserver: metadata.name must be spec.names.plural + "." + spec.group (422)."""
    resp = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        "metadata": {"name": "wrong.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "things", "kind": "Thing"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object"}}}]}})
    assert resp.status_code == 422
    assert resp.json()["details"]["causes"][0]["field"] == "metadata.name"


def test_custom_resources_are_validated_against_the_schema_with_422_field_paths(api, ns, widgets):
    """apiextensions-apiserver: schema violations (required, min/max, enum, pattern, maxLength, type) are
    one 422 Invalid Status whose causes name each field path."""
    resp = api.post(widgets.format(ns=ns), {"apiVersion": "example.com/v1", "kind": "Widget",
                                            "metadata": {"name": "bad"},
                                            "spec": {"size": 99, "color": "green", "name": "UPPER-and-long"}})
    assert resp.status_code == 422
    body = resp.json()
    assert body["reason"] == "Invalid" and body["details"]["kind"] == "Widget"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"spec.size", "spec.color", "spec.name"} <= fields
    missing = api.post(widgets.format(ns=ns), {"apiVersion": "example.com/v1", "kind": "Widget",
                                               "metadata": {"name": "bad2"}, "spec": {}})
    assert missing.status_code == 422
    assert "spec.size" in {c["field"] for c in missing.json()["details"]["causes"]}


def test_custom_resources_get_defaults_and_lose_unknown_fields(api, ns, widgets):
    """apiextensions-apiserver: defaults are applied and unknown fields pruned, except under
    x-kubernetes-preserve-unknown-fields."""
    body = api.post(widgets.format(ns=ns), {"apiVersion": "example.com/v1", "kind": "Widget",
                                            "metadata": {"name": "ok"},
                                            "spec": {"size": 2, "bogus": 1, "extra": {"kept": True}}}).json()
    assert body["spec"] == {"size": 2, "color": "red", "extra": {"kept": True}}


def test_custom_resource_generation_moves_for_anything_outside_status_and_metadata(api, ns, widgets):
    """apiextensions-apiserver: CR generation increments on changes outside metadata and status."""
    path = widgets.format(ns=ns)
    api.post(path, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "g"}, "spec": {"size": 1}})
    assert api.patch(f"{path}/g", {"spec": {"size": 2}}).json()["metadata"]["generation"] == 2
    assert api.patch(f"{path}/g", {"metadata": {"annotations": {"a": "b"}}}).json()["metadata"]["generation"] == 2


def test_tables_use_the_crd_printer_columns(api, ns, widgets):
    """kube-apiserver: Accept as=Table returns meta.k8s.io/v1 Table rows built from additionalPrinterColumns."""
    path = widgets.format(ns=ns)
    api.post(path, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "tbl"}, "spec": {"size": 4}})
    api.patch(f"{path}/tbl/status", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    table = api.get(path, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Ready"]
    assert table["rows"][0]["cells"] == ["tbl", 4, "True"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_openapi_v3_declares_field_validation_for_patch_of_each_kind(api, widgets):
    """kube-apiserver: /openapi/v3 indexes group-versions; each PATCH operation accepts fieldValidation,
    which is what kubectl checks before letting the server validate."""
    index = api.get("/openapi/v3").json()["paths"]
    assert "api/v1" in index and "apis/example.com/v1" in index
    doc = api.get(index["apis/example.com/v1"]["serverRelativeURL"]).json()
    patch = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "example.com", "version": "v1", "kind": "Widget"}
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert doc["components"]["schemas"]["com.example.v1.Widget"]["properties"]["spec"]["required"] == ["size"]
