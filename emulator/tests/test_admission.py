"""Admission as kube-apiserver runs it, each check tested as the client it refuses.

Covers ValidatingAdmissionPolicy (match constraints, namespace and object selectors, match conditions,
params with paramKind/paramRef, variables, messageExpression, reason, failurePolicy, Deny/Warn actions,
binding matchResources), Pod Security admission from namespace labels (enforce refuses Pods, warns for
workloads; warn; levels baseline and restricted), ServiceAccount admission (default ServiceAccount,
projected token volume, automount opt-out, missing ServiceAccount), DefaultTolerationSeconds, the
`default` ServiceAccount controller, and that the writes the checks refuse are not stored.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from finplane_emulator.testing import ApiServerHandle, start_apiserver

ADM = "/apis/admissionregistration.k8s.io/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerHandle]:
    with start_apiserver(tmp_path_factory.mktemp("admission"), secure=True) as handle:
        yield handle


@pytest.fixture(scope="module")
def admin(server: ApiServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=30,
                      verify=ssl.create_default_context(cafile=str(server.ca_file))) as c:
        yield c


def namespace(admin: httpx.Client, labels: dict[str, str] | None = None) -> str:
    name = f"adm-{uuid.uuid4().hex[:6]}"
    resp = admin.post("/api/v1/namespaces", json={"metadata": {"name": name, "labels": labels or {}}})
    assert resp.status_code == 201, resp.text
    deadline = time.monotonic() + 10
    while admin.get(f"/api/v1/namespaces/{name}/serviceaccounts/default").status_code != 200:
        assert time.monotonic() < deadline, "no default ServiceAccount"
        time.sleep(0.05)
    return name


def deployment(name: str, *, replicas: int = 1, image: str = "registry.example/app:1.0",
               labels: dict[str, str] | None = None, container: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": image, **(container or {})}]}}}}


def policy(admin: httpx.Client, name: str, spec: dict[str, Any], binding: dict[str, Any]) -> None:
    resp = admin.post(f"{ADM}/validatingadmissionpolicies", json={"metadata": {"name": name}, "spec": spec})
    assert resp.status_code == 201, resp.text
    resp = admin.post(f"{ADM}/validatingadmissionpolicybindings",
                      json={"metadata": {"name": f"{name}-binding"}, "spec": {"policyName": name, **binding}})
    assert resp.status_code == 201, resp.text


def remove(admin: httpx.Client, name: str) -> None:
    admin.delete(f"{ADM}/validatingadmissionpolicybindings/{name}-binding")
    admin.delete(f"{ADM}/validatingadmissionpolicies/{name}")


DEPLOYMENTS = {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"],
                                  "operations": ["CREATE", "UPDATE"]}]}


def test_a_policy_denies_a_violating_deployment_and_stores_nothing(admin: httpx.Client) -> None:
    ns = namespace(admin)
    policy(admin, "max-replicas", {"matchConstraints": DEPLOYMENTS,
                                   "validations": [{"expression": "object.spec.replicas <= 5"}]},
           {"validationActions": ["Deny"]})
    try:
        resp = admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("big", replicas=6))
        assert resp.status_code == 422
        body = resp.json()
        assert body["reason"] == "Invalid"
        assert ("ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' denied request: "
                "failed expression: object.spec.replicas <= 5") in body["message"]
        assert admin.get(f"/apis/apps/v1/namespaces/{ns}/deployments/big").status_code == 404
        ok = admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("small", replicas=2))
        assert ok.status_code == 201
        # an update is checked too
        scaled = admin.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/small", json={"spec": {"replicas": 9}},
                             headers={"Content-Type": "application/merge-patch+json"})
        assert scaled.status_code == 422
    finally:
        remove(admin, "max-replicas")


def test_reason_message_expression_and_warn_action(admin: httpx.Client) -> None:
    ns = namespace(admin)
    policy(admin, "no-latest", {"matchConstraints": DEPLOYMENTS, "validations": [{
        "expression": "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
        "messageExpression": "'image of ' + object.metadata.name + ' uses latest'", "reason": "Forbidden"}]},
           {"validationActions": ["Warn"]})
    try:
        resp = admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("w", image="app:latest"))
        assert resp.status_code == 201
        assert resp.headers["Warning"] == ('299 - "Validation failed for ValidatingAdmissionPolicy \'no-latest\' '
                                           'with binding \'no-latest-binding\': image of w uses latest"')
        admin.patch(f"{ADM}/validatingadmissionpolicybindings/no-latest-binding",
                    json={"spec": {"validationActions": ["Deny"]}},
                    headers={"Content-Type": "application/merge-patch+json"})
        denied = admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("d", image="app:latest"))
        assert denied.status_code == 403
        assert denied.json()["message"] == (
            'deployments.apps "d" is forbidden: ValidatingAdmissionPolicy \'no-latest\' with binding '
            "'no-latest-binding' denied request: image of d uses latest")
    finally:
        remove(admin, "no-latest")


def test_namespace_and_object_selectors_and_match_conditions_bound_a_policy(admin: httpx.Client) -> None:
    guarded = namespace(admin, {"tier": "prod"})
    free = namespace(admin, {"tier": "dev"})
    policy(admin, "prod-only", {
        "matchConstraints": {**DEPLOYMENTS, "namespaceSelector": {"matchLabels": {"tier": "prod"}},
                             "objectSelector": {"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]}},
        "matchConditions": [{"name": "not-the-admin-canary",
                             "expression": "!object.metadata.name.startsWith('canary')"}],
        "variables": [{"name": "replicas", "expression": "object.spec.replicas"}],
        "validations": [{"expression": "variables.replicas >= 2", "message": "prod needs two replicas"}]},
        {"validationActions": ["Deny"]})
    try:
        path = "/apis/apps/v1/namespaces/{}/deployments"
        refused = admin.post(path.format(guarded), json=deployment("one"))
        assert refused.status_code == 422 and "prod needs two replicas" in refused.json()["message"]
        assert admin.post(path.format(free), json=deployment("one")).status_code == 201
        assert admin.post(path.format(guarded), json=deployment("labelled", labels={"skip": "y"})).status_code == 201
        assert admin.post(path.format(guarded), json=deployment("canary-1")).status_code == 201
    finally:
        remove(admin, "prod-only")


def test_params_come_from_the_binding_param_ref(admin: httpx.Client) -> None:
    ns = namespace(admin)
    admin.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "limits"},
                                                             "data": {"max": "3"}})
    policy(admin, "param-max", {
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "matchConstraints": DEPLOYMENTS,
        "validations": [{"expression": "object.spec.replicas <= int(params.data.max)",
                         "messageExpression": "'at most ' + params.data.max + ' replicas'"}]},
        {"paramRef": {"name": "limits", "parameterNotFoundAction": "Deny"}, "validationActions": ["Deny"]})
    try:
        path = f"/apis/apps/v1/namespaces/{ns}/deployments"
        assert admin.post(path, json=deployment("ok", replicas=3)).status_code == 201
        refused = admin.post(path, json=deployment("too-many", replicas=4))
        assert refused.status_code == 422 and "at most 3 replicas" in refused.json()["message"]
        other = namespace(admin)  # no "limits" ConfigMap there: parameterNotFoundAction Deny refuses
        missing = admin.post(f"/apis/apps/v1/namespaces/{other}/deployments", json=deployment("x"))
        assert missing.status_code == 422 and "no params found" in missing.json()["message"]
    finally:
        remove(admin, "param-max")


@pytest.mark.parametrize(("failure_policy", "expected"), [("Fail", 422), ("Ignore", 201)])
def test_an_expression_that_cannot_run_follows_the_failure_policy(admin: httpx.Client, failure_policy: str,
                                                                   expected: int) -> None:
    ns = namespace(admin)
    name = f"broken-{failure_policy.lower()}"
    policy(admin, name, {"failurePolicy": failure_policy, "matchConstraints": DEPLOYMENTS,
                         "validations": [{"expression": "object.spec.nothing.here == 1"}]},
           {"validationActions": ["Deny"]})
    try:
        resp = admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("d"))
        assert resp.status_code == expected, resp.text
    finally:
        remove(admin, name)


def test_binding_match_resources_narrows_the_policy(admin: httpx.Client) -> None:
    ns, other = namespace(admin), namespace(admin)
    policy(admin, "narrowed", {"matchConstraints": DEPLOYMENTS, "validations": [{"expression": "false"}]},
           {"validationActions": ["Deny"], "matchResources": {"namespaceSelector": {
               "matchLabels": {"kubernetes.io/metadata.name": ns}}}})
    try:
        assert admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("d")).status_code == 422
        assert admin.post(f"/apis/apps/v1/namespaces/{other}/deployments", json=deployment("d")).status_code == 201
    finally:
        remove(admin, "narrowed")


RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
COMPLIANT = {"securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                 "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}


def pod(name: str, container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "app:1", **(container or {})}], **spec}}


def test_pod_security_enforce_refuses_a_violating_pod(admin: httpx.Client) -> None:
    ns = namespace(admin, RESTRICTED)
    resp = admin.post(f"/api/v1/namespaces/{ns}/pods", json=pod("bad"))
    assert resp.status_code == 403
    message = resp.json()["message"]
    assert message.startswith('pods "bad" is forbidden: violates PodSecurity "restricted:latest": ')
    for check in ("allowPrivilegeEscalation != false", "unrestricted capabilities", "runAsNonRoot != true",
                  "seccompProfile"):
        assert check in message
    assert admin.post(f"/api/v1/namespaces/{ns}/pods", json=pod("good", COMPLIANT)).status_code == 201


def test_pod_security_baseline_allows_what_restricted_refuses_but_not_privileged(admin: httpx.Client) -> None:
    ns = namespace(admin, {"pod-security.kubernetes.io/enforce": "baseline"})
    assert admin.post(f"/api/v1/namespaces/{ns}/pods", json=pod("plain")).status_code == 201
    privileged = admin.post(f"/api/v1/namespaces/{ns}/pods",
                            json=pod("priv", {"securityContext": {"privileged": True}}))
    assert privileged.status_code == 403
    assert 'privileged (container "app" must not set securityContext.privileged=true)' in privileged.json()["message"]
    host = admin.post(f"/api/v1/namespaces/{ns}/pods", json=pod("host", hostNetwork=True))
    assert host.status_code == 403 and "host namespaces (hostNetwork=true)" in host.json()["message"]


def test_pod_security_only_warns_for_workloads_and_for_warn_mode(admin: httpx.Client) -> None:
    ns = namespace(admin, RESTRICTED)
    resp = admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("web"))
    assert resp.status_code == 201
    assert resp.headers["Warning"].startswith('299 - "would violate PodSecurity \'restricted:latest\': ')
    warn_only = namespace(admin, {"pod-security.kubernetes.io/warn": "baseline"})
    resp = admin.post(f"/api/v1/namespaces/{warn_only}/pods", json=pod("p", hostPID=True))
    assert resp.status_code == 201
    assert "would violate PodSecurity 'baseline:latest': host namespaces (hostPID=true)" in resp.headers["Warning"]


def test_service_account_admission_defaults_the_pod(admin: httpx.Client) -> None:
    ns = namespace(admin)
    created = admin.post(f"/api/v1/namespaces/{ns}/pods", json=pod("p")).json()
    spec = created["spec"]
    assert spec["serviceAccountName"] == "default"
    volume = next(v for v in spec["volumes"] if v["name"].startswith("kube-api-access-"))
    assert volume["projected"]["sources"][0]["serviceAccountToken"]["path"] == "token"
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    tolerations = {(t["key"], t["tolerationSeconds"]) for t in spec["tolerations"]}
    assert tolerations == {("node.kubernetes.io/not-ready", 300), ("node.kubernetes.io/unreachable", 300)}
    quiet = admin.post(f"/api/v1/namespaces/{ns}/pods", json=pod("q", automountServiceAccountToken=False)).json()
    assert "volumes" not in quiet["spec"] or not quiet["spec"]["volumes"]
    missing = admin.post(f"/api/v1/namespaces/{ns}/pods", json=pod("m", serviceAccountName="ghost"))
    assert missing.status_code == 403
    assert 'serviceaccount "ghost" not found' in missing.json()["message"]


def test_a_deleted_default_service_account_comes_back(admin: httpx.Client) -> None:
    ns = namespace(admin)
    assert admin.delete(f"/api/v1/namespaces/{ns}/serviceaccounts/default").status_code == 200
    deadline = time.monotonic() + 10
    while admin.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default").status_code != 200:
        assert time.monotonic() < deadline, "the default ServiceAccount was not recreated"
        time.sleep(0.05)
