"""Behaviours that clients written for real clusters rely on (issue 18's "fidelity gaps"), against the server
process, with raw HTTP, the official `kubernetes` client and kubectl. Each test's docstring names the
kube-apiserver behaviour it mirrors:
- the status a created object has (Pod phase and QoS class, Service load balancer, Deployment `{}`);
- field selectors with empty terms; the `default/kubernetes` Service and system PriorityClasses;
- validation of built-in kinds against the served version's OpenAPI schemas, Service names as DNS-1035
  labels, the 256 KiB annotation total, ResourceQuota and LimitRange values;
- discovery of certificates.k8s.io, storage.k8s.io, discovery.k8s.io, scheduling.k8s.io and core
  ReplicationControllers;
- `as=PartialObjectMetadata[List]` answers and 406 for an `as=` the server does not know;
- a watch from a compacted resourceVersion; kubectl's event and `-o wide` columns.
Graceful Pod deletion is in test_pod_grace.py (it needs a server whose simulated kubelet is slow).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client, config

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def _pod(name: str, **container: Any) -> dict[str, Any]:
    return {**POD, "metadata": {"name": name}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                                         **container}]}}


def _deployment(name: str, *, containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": containers or [{"name": "web", "image": "nginx:1.27"}]}}}}


@pytest.fixture
def core_v1(server: Any) -> Any:
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()


# -- initial status --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("resources", "qos"), [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "500m", "memory": "128Mi"}}, "Guaranteed"),
    ({"requests": {"cpu": "0.5", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}, "Guaranteed"),
    ({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}, "Burstable"),
])
def test_a_created_pod_is_pending_with_the_qos_class_of_its_resources(api, ns, resources, qos):
    """podStrategy.PrepareForCreate: status is {phase: Pending, qosClass: qos.GetPodQOS(pod)}; Pod defaulting
    copies a limit into a missing request, which is why limits alone make a Pod Guaranteed."""
    resp = api.post(f"/api/v1/namespaces/{ns}/pods", _pod("p", resources=resources))
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == {"phase": "Pending", "qosClass": qos}
    assert resp.json()["spec"]["terminationGracePeriodSeconds"] == 30


def test_a_created_service_and_deployment_show_their_empty_status(api, ns):
    """Go serialises the zero LoadBalancerStatus and DeploymentStatus: a new Service has
    `status.loadBalancer: {}`, a new Deployment `status: {}`, whatever the client sent as status."""
    svc = api.post(f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}})
    assert svc.status_code == 201, svc.text
    assert svc.json()["status"] == {"loadBalancer": {}}
    dep = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("web"))
    assert dep.status_code == 201, dep.text
    assert dep.json()["status"] == {}


def test_the_official_client_reads_the_pod_status_it_expects(core_v1, ns):
    """client-go/python tests written for kind read `status.phase` and `status.qos_class` right after create."""
    created = core_v1.create_namespaced_pod(ns, _pod("typed", resources={"requests": {"memory": "64Mi"}}))
    assert (created.status.phase, created.status.qos_class) == ("Pending", "Burstable")


# -- selectors, bootstrap objects ------------------------------------------------------------------------


def test_a_field_selector_with_an_empty_term_is_parsed_as_without_it(api, ns):
    """fields.ParseSelector skips empty terms: `metadata.name=a,` selects what `metadata.name=a` selects."""
    api.cm(ns, "a")
    api.cm(ns, "b")
    for selector in ("metadata.name=a,", ",metadata.name=a", "metadata.name=a,,"):
        resp = api.get(f"/api/v1/namespaces/{ns}/configmaps", params={"fieldSelector": selector})
        assert resp.status_code == 200, resp.text
        assert [i["metadata"]["name"] for i in resp.json()["items"]] == ["a"]


def test_the_default_kubernetes_service_and_system_priority_classes_exist(api):
    """The controlplane's kubernetes-service controller keeps default/kubernetes (first IP of the service
    range, port 443 named https); the scheduling bootstrap creates system-cluster/node-critical."""
    svc = api.get("/api/v1/namespaces/default/services/kubernetes")
    assert svc.status_code == 200, svc.text
    spec = svc.json()["spec"]
    assert spec["clusterIP"] == "10.96.0.1"
    assert [(p["name"], p["port"]) for p in spec["ports"]] == [("https", 443)]
    assert svc.json()["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    names = {i["metadata"]["name"] for i in api.get("/apis/scheduling.k8s.io/v1/priorityclasses").json()["items"]}
    assert {"system-cluster-critical", "system-node-critical"} <= names


def test_new_services_never_get_the_kubernetes_service_ip(api, ns):
    """The service IP allocator reserves the range's first address for default/kubernetes."""
    ips = {api.post(f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}"},
        "spec": {"ports": [{"port": 80}]}}).json()["spec"]["clusterIP"] for i in range(3)}
    assert "10.96.0.1" not in ips and len(ips) == 3


# -- validation of built-in kinds ------------------------------------------------------------------------


def test_a_container_without_a_name_is_refused_like_kube_apiserver_does(api, ns):
    """ValidatePod: `spec.containers[0].name: Required value`, a 422 Invalid Status with a FieldValueRequired
    cause (the field is required in the served version's OpenAPI schema)."""
    body = _pod("nameless")
    del body["spec"]["containers"][0]["name"]
    resp = api.post(f"/api/v1/namespaces/{ns}/pods", body)
    assert resp.status_code == 422, resp.text
    status = resp.json()
    assert status["reason"] == "Invalid"
    assert status["message"] == 'Pod "nameless" is invalid: spec.containers[0].name: Required value'
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].name"}]
    assert api.get(f"/api/v1/namespaces/{ns}/pods/nameless").status_code == 404


def test_every_missing_required_field_is_reported_at_once(api, ns):
    """field.ErrorList.ToAggregate: several errors in one message, in brackets."""
    body = _deployment("web", containers=[{"image": "nginx"}])
    del body["spec"]["selector"]
    resp = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", body)
    assert resp.status_code == 422, resp.text
    fields = {c["field"] for c in resp.json()["details"]["causes"]}
    assert fields == {"spec.selector", "spec.template.spec.containers[0].name"}
    assert resp.json()["message"].startswith('Deployment.apps "web" is invalid: [')


def test_a_value_of_the_wrong_type_fails_decoding_with_400(api, ns):
    """A string where the schema has an int32 cannot be decoded into the Go type: 400 BadRequest."""
    body = _deployment("typed")
    body["spec"]["replicas"] = "three"
    resp = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", body)
    assert resp.status_code == 400, resp.text
    assert "cannot unmarshal string into Go struct field" in resp.json()["message"]
    assert "spec.replicas of type int32" in resp.json()["message"]


def test_a_patch_that_removes_a_required_field_is_refused(api, ns):
    """Validation runs on the result of every write (update and patch), not only on create."""
    assert api.post(f"/api/v1/namespaces/{ns}/pods", _pod("patched")).status_code == 201
    resp = api.patch(f"/api/v1/namespaces/{ns}/pods/patched",
                     [{"op": "remove", "path": "/spec/containers/0/name"}], ctype="application/json-patch+json")
    assert resp.status_code == 422, resp.text
    assert resp.json()["details"]["causes"][0]["field"] == "spec.containers[0].name"


@pytest.mark.parametrize("name", ["1web", "web.v1"])
def test_a_service_name_must_be_a_dns_1035_label(api, ns, name):
    """ValidateServiceName is a DNS-1035 label: it must start with a letter and has no dots."""
    resp = api.post(f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}})
    assert resp.status_code == 422, resp.text
    assert "a DNS-1035 label must consist of lower case alphanumeric characters" in resp.json()["message"]
    assert api.cm(ns, name).status_code == 201  # a ConfigMap's name is a subdomain: digits first and dots pass


def test_annotations_over_256_kib_in_total_are_refused_for_any_kind(api, ns, widgets):
    """ValidateAnnotationsSize: keys plus values of all annotations may not exceed 262144 bytes."""
    big = {f"k{i}": "x" * (100 * 1024) for i in range(3)}
    resp = api.cm(ns, "big", annotations=big)
    assert resp.status_code == 422, resp.text
    assert resp.json()["details"]["causes"] == [{"reason": "FieldValueTooLong", "field": "metadata.annotations",
                                                 "message": "Too long: may not be more than 262144 bytes"}]
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "big", "annotations": big},
              "spec": {"size": 1}}
    assert api.post(widgets.format(ns=ns), widget).status_code == 422
    assert api.cm(ns, "fits", annotations={"k": "x" * (200 * 1024)}).status_code == 201


def test_resource_quota_values_must_be_non_negative_quantities(api, ns):
    """ValidateResourceQuota: every `spec.hard` value is a quantity >= 0."""
    def quota(hard: dict[str, Any]) -> httpx.Response:
        return api.post(f"/api/v1/namespaces/{ns}/resourcequotas", {
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": hard}})
    negative = quota({"cpu": "-1"})
    assert negative.status_code == 422, negative.text
    assert negative.json()["details"]["causes"][0]["field"] == "spec.hard[cpu]"
    assert "must be greater than or equal to 0" in negative.json()["message"]
    assert quota({"pods": "lots"}).status_code == 422
    assert quota({"cpu": "4", "memory": "8Gi", "pods": "10"}).status_code == 201


def test_a_limit_range_default_may_not_exceed_its_max(api, ns):
    """ValidateLimitRange: min <= defaultRequest <= default <= max per resource, reported on the offending field."""
    def limit_range(name: str, item: dict[str, Any]) -> httpx.Response:
        return api.post(f"/api/v1/namespaces/{ns}/limitranges", {
            "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": name},
            "spec": {"limits": [{"type": "Container", **item}]}})
    resp = limit_range("over", {"default": {"cpu": "2"}, "max": {"cpu": "1"}})
    assert resp.status_code == 422, resp.text
    assert resp.json()["message"] == ('LimitRange "over" is invalid: spec.limits[0].default[cpu]: Invalid value: '
                                      '"2": default value 2 is greater than max value 1')
    assert limit_range("req", {"defaultRequest": {"memory": "1Gi"}, "default": {"memory": "512Mi"}}).status_code == 422
    assert limit_range("ok", {"default": {"cpu": "500m"}, "defaultRequest": {"cpu": "250m"},
                              "max": {"cpu": "1"}}).status_code == 201


# -- discovery of the added APIs -------------------------------------------------------------------------


@pytest.mark.parametrize(("group_version", "plural", "namespaced"), [
    ("certificates.k8s.io/v1", "certificatesigningrequests", False),
    ("storage.k8s.io/v1", "storageclasses", False),
    ("storage.k8s.io/v1", "csidrivers", False),
    ("discovery.k8s.io/v1", "endpointslices", True),
    ("scheduling.k8s.io/v1", "priorityclasses", False),
    ("v1", "replicationcontrollers", True),
])
def test_the_added_apis_are_discovered_and_served(api, group_version, plural, namespaced):
    """Discovery lists every group kube-apiserver serves by default, with the resource's scope and verbs."""
    prefix = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
    listed = api.get(prefix).json()
    entry = next(r for r in listed["resources"] if r["name"] == plural)
    assert entry["namespaced"] is namespaced and "create" in entry["verbs"]
    if "/" in group_version:
        groups = {g["name"] for g in api.get("/apis").json()["groups"]}
        assert group_version.split("/")[0] in groups
    assert api.get(f"{prefix}/{plural}").status_code == 200


def test_kubectl_creates_a_storage_class_and_an_endpoint_slice(kubectl_env, ns, tmp_path):
    """kubectl resolves the new kinds through discovery and the server validates them with their schemas."""
    manifest = tmp_path / "objs.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": f"fast-{ns}"},
         "provisioner": "example.com/fast"},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-1", "namespace": ns}, "addressType": "IPv4",
         "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]},
    ]}))
    done = subprocess.run(["kubectl", "create", "-f", str(manifest)], env=kubectl_env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"storageclass.storage.k8s.io/fast-{ns} created" in done.stdout
    missing = subprocess.run(["kubectl", "create", "-f", "-"], env=kubectl_env, capture_output=True, text=True,
                             timeout=60, input=json.dumps({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                                           "metadata": {"name": f"none-{ns}"}}))
    assert missing.returncode != 0 and "provisioner: Required value" in missing.stderr


# -- content negotiation ---------------------------------------------------------------------------------

_PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
_PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def test_partial_object_metadata_is_answered_with_metadata_only(api, ns):
    """transformObject: as=PartialObjectMetadata(List) answers the metadata without spec, data or status (what
    client-go's metadata informers and kubectl's garbage-collection listings ask for)."""
    api.cm(ns, "m", labels={"a": "b"}, data={"secret-ish": "value"})
    one = api.get(f"/api/v1/namespaces/{ns}/configmaps/m", headers={"Accept": _PARTIAL})
    assert one.status_code == 200, one.text
    assert set(one.json()) == {"kind", "apiVersion", "metadata"}
    assert (one.json()["kind"], one.json()["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
    assert one.json()["metadata"]["labels"] == {"a": "b"}
    listed = api.get(f"/api/v1/namespaces/{ns}/configmaps", headers={"Accept": f"{_PARTIAL_LIST},application/json"})
    body = listed.json()
    assert body["kind"] == "PartialObjectMetadataList" and body["metadata"]["resourceVersion"]
    assert [set(i) for i in body["items"]] == [{"kind", "apiVersion", "metadata"}]


def test_an_unknown_as_in_accept_gets_406_unless_a_plain_type_follows(api, ns):
    """Content negotiation skips media types it cannot serve; when none is left: 406 NotAcceptable."""
    api.cm(ns, "n")
    path = f"/api/v1/namespaces/{ns}/configmaps/n"
    refused = api.get(path, headers={"Accept": "application/json;as=Bogus;g=meta.k8s.io;v=v1"})
    assert refused.status_code == 406, refused.text
    assert refused.json()["reason"] == "NotAcceptable"
    assert api.get(path, headers={"Accept": _PARTIAL_LIST}).status_code == 406  # a list type for one object
    fallback = api.get(path, headers={"Accept": "application/json;as=Bogus;g=meta.k8s.io;v=v1, application/json"})
    assert fallback.status_code == 200 and fallback.json()["kind"] == "ConfigMap"


# -- watch from a compacted resourceVersion --------------------------------------------------------------


def test_a_watch_from_a_long_compacted_resource_version_gets_410_gone(api, server, ns):
    """The watch cache answers a resourceVersion older than etcd's compaction with an ERROR event carrying a 410
    Expired Status ("too old resource version"), never with ADDED events replayed from history."""
    api.cm(ns, "w")
    with httpx.stream("GET", f"{server.url}/api/v1/namespaces/{ns}/configmaps",
                      params={"watch": "true", "resourceVersion": "1", "timeoutSeconds": "5"}, timeout=30) as resp:
        first = json.loads(next(resp.iter_lines()))
    assert first["type"] == "ERROR", first
    assert first["object"]["code"] == 410 and "too old resource version" in first["object"]["message"]


# -- kubectl columns -------------------------------------------------------------------------------------


KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
_INSTALLED = sorted(KUBECTL_DIR.glob("kubectl.1.*"),
                    key=lambda p: tuple(int(x) for x in p.name.removeprefix("kubectl.").split(".")))
# The oldest and newest installed, else the default `kubectl`: printing is server-side, so all must agree.
KUBECTLS = [str(p) for p in (_INSTALLED[:1] + _INSTALLED[-1:])] or ["kubectl"]


def _kubectl(env: dict[str, str], *args: str, binary: str = "kubectl") -> str:
    done = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("kubectl", KUBECTLS, ids=lambda p: Path(p).name)
def test_kubectl_get_events_shows_the_real_columns(api, kubectl_env, ns, kubectl):
    """printEvent: LAST SEEN, TYPE, REASON, OBJECT (kind/name lower-cased), MESSAGE; no NAME or AGE."""
    api.post(f"/api/v1/namespaces/{ns}/events", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "type": "Warning", "reason": "BackOff",
        "message": "Back-off restarting failed container", "count": 1,
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": ns},
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"})
    lines = _kubectl(kubectl_env, "get", "events", "-n", ns, binary=kubectl).splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert lines[1].split()[1:5] == ["Warning", "BackOff", "pod/web-1", "Back-off"]


@pytest.mark.parametrize("kubectl", KUBECTLS, ids=lambda p: Path(p).name)
def test_kubectl_get_o_wide_adds_the_real_columns(api, kubectl_env, ns, kubectl):
    """printDeployment/printService/printNetworkPolicy: -o wide adds CONTAINERS, IMAGES, SELECTOR to Deployments
    and SELECTOR to Services; NetworkPolicies show POD-SELECTOR."""
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("web", containers=[
        {"name": "web", "image": "nginx:1.27"}, {"name": "side", "image": "busybox:1"}]))
    api.post(f"/api/v1/namespaces/{ns}/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    api.post(f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}}})
    deploy = _kubectl(kubectl_env, "get", "deploy", "-n", ns, "-o", "wide", binary=kubectl).splitlines()
    assert deploy[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert deploy[1].split()[-3:] == ["web,side", "nginx:1.27,busybox:1", "app=web"]
    svc = _kubectl(kubectl_env, "get", "svc", "web", "-n", ns, "-o", "wide", binary=kubectl).splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert svc[1].split()[3:5] == ["<none>", "80/TCP"] and svc[1].split()[-1] == "app=web"
    netpol = _kubectl(kubectl_env, "get", "netpol", "-n", ns, binary=kubectl).splitlines()
    assert netpol[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert netpol[1].split()[:2] == ["deny", "app=web"]

