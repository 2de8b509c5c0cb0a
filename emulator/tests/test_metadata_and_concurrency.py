"""Object metadata (semantic 2), optimistic concurrency and Status errors (semantic 3), Secrets'
stringData (semantic 10): each test names the kube-apiserver behaviour it mirrors."""

from __future__ import annotations

import base64


def test_created_objects_get_uid_timestamp_generation_and_a_resource_version(api, ns):
    """kube-apiserver: the server owns uid, creationTimestamp, generation and resourceVersion. Generation is 1 on
    create for kinds whose strategy tracks it (workloads, policies, custom resources); core kinds such as
    ConfigMaps and Namespaces have none, even when the client sends one."""
    body = api.cm(ns, "a", uid="client-chosen", resourceVersion="42", generation=7).json()
    md = body["metadata"]
    assert md["uid"] != "client-chosen" and len(md["uid"]) == 36
    assert md["creationTimestamp"].endswith("Z")
    assert "generation" not in md
    assert md["resourceVersion"] != "42"
    assert "generation" not in api.get(f"/api/v1/namespaces/{ns}").json()["metadata"]
    policy = api.post(f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p", "generation": 7},
        "spec": {"podSelector": {}}}).json()
    assert policy["metadata"]["generation"] == 1


def test_resource_versions_come_from_one_counter_across_resources(api, ns):
    """kube-apiserver: resourceVersions come from etcd's single revision counter, so they grow across kinds."""
    rv1 = int(api.cm(ns, "a").json()["metadata"]["resourceVersion"])
    rv2 = int(api.post(f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "s"}}).json()["metadata"]["resourceVersion"])
    rv3 = int(api.cm(ns, "b").json()["metadata"]["resourceVersion"])
    assert rv1 < rv2 < rv3


def test_generation_moves_on_spec_changes_only(api, ns):
    """kube-apiserver: metadata.generation increments when the spec changes, not on label or status writes."""
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    dep = {"metadata": {"name": "d"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
           "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    assert api.post(path, dep).json()["metadata"]["generation"] == 1
    labelled = api.patch(f"{path}/d", {"metadata": {"labels": {"new": "label"}}}).json()
    assert labelled["metadata"]["generation"] == 1
    scaled = api.patch(f"{path}/d", {"spec": {"replicas": 3}}).json()
    assert scaled["metadata"]["generation"] == 2


def test_generate_name_appends_a_random_suffix(api, ns):
    """kube-apiserver: metadata.generateName gets five random characters appended when name is empty."""
    names = {api.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"generateName": "job-"}}).json()["metadata"]["name"]
             for _ in range(3)}
    assert len(names) == 3
    assert all(n.startswith("job-") and len(n) == 9 for n in names)


def test_creating_in_a_missing_namespace_is_404_namespace_not_found(api):
    """kube-apiserver: POST into a namespace that does not exist answers 404 `namespaces "x" not found`."""
    resp = api.cm("does-not-exist", "a")
    assert resp.status_code == 404
    assert resp.json()["reason"] == "NotFound"
    assert resp.json()["details"] == {"name": "does-not-exist", "kind": "namespaces"}


def test_cluster_scoped_kinds_are_not_served_under_a_namespace(api, ns):
    """kube-apiserver: cluster-scoped resources have no /namespaces/{ns}/ path (404)."""
    assert api.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/clusterroles").status_code == 404
    assert api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles").status_code == 200


def test_a_missing_name_without_generate_name_is_422_invalid(api, ns):
    """kube-apiserver: `metadata.name: Required value: name or generateName is required` with 422."""
    resp = api.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {}})
    assert resp.status_code == 422
    assert resp.json()["details"]["causes"][0]["field"] == "metadata.name"


def test_creating_an_existing_name_is_409_already_exists_with_status_details(api, ns):
    """kube-apiserver: 409 with a Status {reason: AlreadyExists, details: {name, kind: <plural>}}."""
    api.cm(ns, "dup")
    body = api.cm(ns, "dup").json()
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert (body["code"], body["reason"]) == (409, "AlreadyExists")
    assert body["details"] == {"name": "dup", "kind": "configmaps"}
    assert body["message"] == 'configmaps "dup" already exists'


def test_an_update_with_a_stale_resource_version_is_409_conflict(api, ns):
    """kube-apiserver: PUT with an outdated metadata.resourceVersion fails with 409 reason Conflict."""
    first = api.cm(ns, "c", data={"k": "1"}).json()
    first["data"] = {"k": "2"}
    assert api.put(f"/api/v1/namespaces/{ns}/configmaps/c", first).status_code == 200
    first["data"] = {"k": "3"}
    resp = api.put(f"/api/v1/namespaces/{ns}/configmaps/c", first)
    assert resp.status_code == 409
    assert resp.json()["reason"] == "Conflict"
    assert "the object has been modified" in resp.json()["message"]


def test_a_patch_carrying_a_stale_resource_version_is_409_conflict(api, ns):
    """kube-apiserver: a resourceVersion inside a patch acts as a precondition."""
    api.cm(ns, "p")
    resp = api.patch(f"/api/v1/namespaces/{ns}/configmaps/p", {"metadata": {"resourceVersion": "1"}, "data": {"a": "b"}})
    assert resp.status_code == 409


def test_missing_objects_are_404_not_found_with_group_in_details(api, ns):
    """kube-apiserver: NotFound Status names the resource `deployments.apps "x" not found`."""
    body = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/nope").json()
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "deployments", "group": "apps"}


def test_a_write_that_changes_nothing_keeps_the_resource_version(api, ns):
    """kube-apiserver: a no-op update is not written to etcd, so resourceVersion stays and no event fires."""
    rv = api.cm(ns, "same", data={"a": "b"}).json()["metadata"]["resourceVersion"]
    again = api.patch(f"/api/v1/namespaces/{ns}/configmaps/same", {"data": {"a": "b"}}).json()
    assert again["metadata"]["resourceVersion"] == rv


def test_secret_string_data_is_folded_into_base64_data(api, ns):
    """kube-apiserver: Secret stringData is write-only and merged into data (base64), stringData winning."""
    body = api.post(f"/api/v1/namespaces/{ns}/secrets", {
        "metadata": {"name": "s"}, "data": {"a": base64.b64encode(b"old").decode()},
        "stringData": {"a": "new", "b": "two"}}).json()
    assert "stringData" not in body
    assert {k: base64.b64decode(v).decode() for k, v in body["data"].items()} == {"a": "new", "b": "two"}
    assert body["type"] == "Opaque"


def test_invalid_names_get_apimachinery_s_messages_label_for_namespaces_subdomain_for_others(api, ns):
    """kube-apiserver: Namespace names are RFC 1123 labels (no dots), most other names RFC 1123 subdomains;
    the 422 cause carries apimachinery's wording, regex included, which kubectl prints as is."""
    resp = api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})
    assert resp.status_code == 422
    assert resp.json()["details"]["causes"][0]["message"] == (
        "Invalid value: \"a.b\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
        "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    bad = api.cm(ns, "Upper")
    assert bad.status_code == 422
    assert "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'" in (
        bad.json()["details"]["causes"][0]["message"])
    assert api.cm(ns, "a.b").status_code == 201
