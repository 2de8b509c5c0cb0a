"""End-to-end: TenantSandbox isolation, quotas, the credential's secrecy, approval and conflicts.

Covers, with the real operator against the embedded API server: two sandboxes get their own
namespaces whose RBAC lets each sandbox's members act in their own namespace only and never on
Secrets, quotas, network policies or RBAC (checked by evaluating the live RBAC objects, since the
embedded server does not enforce RBAC), both with the per-namespace Role the operator renders on its
own and with the RoleBinding to the Helm chart's sandbox-member ClusterRole
(FINPLANE_SANDBOX_MEMBER_CLUSTER_ROLE, no Role rendered); sandbox A's NetworkPolicies select and admit nothing of B;
quotas carry the tier's numbers; the partner credential is in its Secret but never in status,
events, operator logs or `finplane render` output, and its hash in status matches it; rotation
replaces it; a sandbox awaiting four-eyes approval is not provisioned until approved; a namespace
that exists and is not the sandbox's gives NamespaceConflict and is not adopted; deleting the CR
removes its namespace.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from finplane.render.sandbox import MEMBER_RULES
from tests.support import OperatorProcess, builders, condition, free_port, is_ready, wait_for

Obj = dict[str, Any]


def sandbox(name: str, *, tier: str = "small", members: list[Obj] | None = None, **extra: Any) -> Obj:
    annotations = extra.pop("annotations", None)
    return builders.sandbox(name, annotations=annotations, **{
        "tier": tier, "members": members or [{"kind": "User", "name": f"dev@{name}.example"}],
        "allowedCapabilities": [{"namespace": "kyc", "name": "kyc-check"}], "ttlSeconds": 30 * 24 * 3600, **extra})


def allowed(rbac: list[Obj], *, user: str, verb: str, group: str, resource: str, namespace: str) -> bool:
    """A tiny RBAC evaluator: does any RoleBinding in `namespace` give `user` a rule allowing the request?"""
    roles = {(r["metadata"].get("namespace"), r["kind"], r["metadata"]["name"]): r
             for r in rbac if r["kind"] in ("Role", "ClusterRole")}
    for rb in (o for o in rbac if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == namespace):
        if not any(s["kind"] == "User" and s["name"] == user for s in rb.get("subjects") or []):
            continue
        ref = rb["roleRef"]
        role = roles.get((namespace if ref["kind"] == "Role" else None, ref["kind"], ref["name"]))
        for rule in (role or {}).get("rules") or []:
            if (group in rule.get("apiGroups", []) or "*" in rule.get("apiGroups", [])) and \
                    (resource in rule.get("resources", []) or "*" in rule.get("resources", [])) and \
                    (verb in rule.get("verbs", []) or "*" in rule.get("verbs", [])):
                return True
    return False


def selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()) and \
        not selector.get("matchExpressions")


def policy_reaches(policy: Obj, *, ns_labels: dict[str, str], pod_labels: dict[str, str]) -> bool:
    """Whether a NetworkPolicy applies to, or admits traffic to/from, a pod in another namespace."""
    target = ns_labels["kubernetes.io/metadata.name"]
    if policy["metadata"]["namespace"] == target and selects(policy["spec"].get("podSelector"), pod_labels):
        return True
    for rule in (policy["spec"].get("egress") or []) + (policy["spec"].get("ingress") or []):
        for peer in rule.get("to", []) + rule.get("from", []):
            same_ns_only = "namespaceSelector" not in peer
            if same_ns_only:
                continue  # a peer without namespaceSelector means the policy's own namespace
            if selects(peer["namespaceSelector"], ns_labels) and selects(peer.get("podSelector"), pod_labels):
                return True
    return False


def rbac_of(cluster: Any, ns: str) -> list[Obj]:
    """The namespace's Roles and RoleBindings, and every ClusterRole one of them binds."""
    out = [{**o, "kind": k} for k, plural in (("Role", "roles"), ("RoleBinding", "rolebindings"))
           for o in cluster.list(plural, namespace=ns)]
    for ref in {rb["roleRef"]["name"] for rb in out if rb["kind"] == "RoleBinding" and
                rb["roleRef"]["kind"] == "ClusterRole"}:
        out.append({**cluster.get("clusterrole", ref), "kind": "ClusterRole"})
    return out


MEMBER_CLUSTER_ROLE = "finplane-sandbox-member"


@pytest.fixture(params=["role-per-sandbox", "chart-cluster-role"])
def member_mode(request: pytest.FixtureRequest, cluster: Any, tmp_path: Path) -> Any:
    """The operator as run without the chart (it renders a Role per sandbox), or as the chart runs it: with
    FINPLANE_SANDBOX_MEMBER_CLUSTER_ROLE naming a ClusterRole of MEMBER_RULES (the chart's, see
    tests/chart/test_chart_sandbox_rbac.py), which the operator only binds."""
    env: dict[str, str] = {}
    if request.param == "chart-cluster-role":
        cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                       "metadata": {"name": MEMBER_CLUSTER_ROLE}, "rules": MEMBER_RULES})
        env["FINPLANE_SANDBOX_MEMBER_CLUSTER_ROLE"] = MEMBER_CLUSTER_ROLE
    proc = OperatorProcess(cluster=cluster, log_path=tmp_path / "operator.log", liveness_port=free_port(),
                           metrics_port=free_port(), extra_env=env)
    proc.start()
    yield request.param
    proc.stop()


def test_two_sandboxes_are_isolated_from_each_other_and_get_their_tier_quota(cluster: Any, member_mode: str) -> None:
    cluster.apply([sandbox("alpha", tier="small"), sandbox("beta", tier="medium")])
    for name in ("alpha", "beta"):
        wait_for(lambda n=name: is_ready(cluster.get("tenantsandbox", n)), what=f"sandbox {name} Ready")
    a, b = cluster.get("tenantsandbox", "alpha"), cluster.get("tenantsandbox", "beta")
    assert a["status"]["phase"] == "Active" and a["status"]["namespace"] == "sbx-alpha"
    ns_a, ns_b = cluster.get("namespace", "sbx-alpha"), cluster.get("namespace", "sbx-beta")
    assert ns_a["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns_a["metadata"]["labels"]["finplane.io/partner"] == "alpha"
    assert ns_a["metadata"]["ownerReferences"][0]["uid"] == a["metadata"]["uid"]

    rbac = rbac_of(cluster, "sbx-alpha") + rbac_of(cluster, "sbx-beta")
    roles = sorted((o["kind"], o["metadata"]["name"]) for o in rbac if o["kind"] in ("Role", "ClusterRole"))
    if member_mode == "chart-cluster-role":
        assert roles == [("ClusterRole", MEMBER_CLUSTER_ROLE)] * 2  # no Role: the operator grants nothing itself
    else:
        assert roles == [("Role", "sandbox-member")] * 2
    alice, bob = "dev@alpha.example", "dev@beta.example"
    assert allowed(rbac, user=alice, verb="create", group="apps", resource="deployments", namespace="sbx-alpha")
    assert not allowed(rbac, user=alice, verb="get", group="apps", resource="deployments", namespace="sbx-beta")
    assert not allowed(rbac, user=bob, verb="list", group="", resource="pods", namespace="sbx-alpha")
    for group, resource in (("", "secrets"), ("", "resourcequotas"), ("", "limitranges"),
                            ("networking.k8s.io", "networkpolicies"), ("rbac.authorization.k8s.io", "roles"),
                            ("rbac.authorization.k8s.io", "rolebindings")):
        for verb in ("get", "update", "delete"):
            assert not allowed(rbac, user=alice, verb=verb, group=group, resource=resource, namespace="sbx-alpha")

    b_pod_labels = {"app": "anything", "finplane.io/capability": "kyc-check"}
    for policy in cluster.list("networkpolicies", namespace="sbx-alpha"):
        assert not policy_reaches(policy, ns_labels=ns_b["metadata"]["labels"], pod_labels=b_pod_labels), \
            policy["metadata"]["name"]
    assert {p["metadata"]["name"] for p in cluster.list("networkpolicies", namespace="sbx-alpha")} >= \
        {"default-deny", "allow-dns", "allow-capabilities"}

    hard_a = cluster.get("resourcequota", "sandbox-quota", "sbx-alpha")["spec"]["hard"]
    hard_b = cluster.get("resourcequota", "sandbox-quota", "sbx-beta")["spec"]["hard"]
    assert (hard_a["pods"], hard_a["requests.cpu"], hard_a["services.loadbalancers"]) == ("10", "2", "0")
    assert (hard_b["pods"], hard_b["limits.memory"], hard_b["services.nodeports"]) == ("40", "16Gi", "0")
    assert b["status"]["credentialHash"] != a["status"]["credentialHash"]


def test_the_partner_credential_is_stored_once_and_never_shown(cluster: Any, operator: Any, tmp_path: Path) -> None:
    body = sandbox("gamma")
    cluster.apply(body)
    wait_for(lambda: is_ready(cluster.get("tenantsandbox", "gamma")), what="sandbox Ready")
    secret = cluster.get("secret", "partner-api-credential", "sbx-gamma")
    key = base64.b64decode(secret["data"]["api-key"]).decode()
    status = cluster.get("tenantsandbox", "gamma")["status"]
    assert status["credentialHash"] == "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    assert status["credentialSecretRef"] == {"name": "partner-api-credential", "namespace": "sbx-gamma",
                                             "key": "api-key"}

    body["spec"]["members"].append({"kind": "Group", "name": "gamma-devs"})  # an unrelated change
    cluster.apply(body)
    wait_for(lambda: any(s["name"] == "gamma-devs" for s in (cluster.get(
        "rolebinding", "sandbox-members", "sbx-gamma") or {}).get("subjects", [])), what="members updated")
    assert cluster.get("secret", "partner-api-credential", "sbx-gamma")["data"] == secret["data"]

    body["spec"]["credentialRotation"] = 1
    cluster.apply(body)
    wait_for(lambda: cluster.get("tenantsandbox", "gamma")["status"].get("credentialRotation") == 1,
             what="credential rotated")
    new_key = base64.b64decode(cluster.get("secret", "partner-api-credential", "sbx-gamma")["data"]["api-key"])
    assert new_key.decode() != key

    doc = tmp_path / "sandbox.yaml"
    doc.write_text(yaml.safe_dump(body))
    rendered = subprocess.run([sys.executable, "-m", "finplane", "render", "-f", str(doc)], capture_output=True,
                              text=True, check=True, env=cluster.env).stdout
    assert "kind: Namespace" in rendered and "kind: Secret" not in rendered
    everything = json.dumps(cluster.get("tenantsandbox", "gamma")) + \
        json.dumps(cluster.list("events", namespace="default")) + operator.logs() + rendered
    for k in (key, new_key.decode()):
        assert k not in everything
        assert base64.b64encode(k.encode()).decode() not in everything


def test_a_sandbox_awaiting_approval_is_provisioned_only_once_approved(cluster: Any, operator: Any) -> None:
    cluster.apply(sandbox("delta", annotations={"finplane.io/approval": "pending"}))
    wait_for(lambda: (condition(cluster.get("tenantsandbox", "delta"), "Ready") or {}).get("reason")
             == "AwaitingApproval", what="AwaitingApproval")
    assert cluster.get("namespace", "sbx-delta") is None
    cluster.kubectl("annotate", "tenantsandbox", "delta", "finplane.io/approval=approved", "--overwrite")
    wait_for(lambda: is_ready(cluster.get("tenantsandbox", "delta")), what="approved sandbox Ready")
    assert cluster.get("namespace", "sbx-delta") is not None


def test_an_existing_foreign_namespace_is_a_conflict_and_is_not_adopted(cluster: Any, operator: Any) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sbx-taken"}})
    cluster.apply(sandbox("taken"))
    wait_for(lambda: (condition(cluster.get("tenantsandbox", "taken"), "Ready") or {}).get("reason")
             == "NamespaceConflict", what="NamespaceConflict")
    assert cluster.get("tenantsandbox", "taken")["status"]["phase"] == "Failed"
    ns = cluster.get("namespace", "sbx-taken")
    assert not ns["metadata"].get("ownerReferences")
    assert cluster.list("resourcequotas", namespace="sbx-taken") == []


def test_deleting_a_sandbox_removes_its_namespace(cluster: Any, operator: Any) -> None:
    cluster.apply(sandbox("omega"))
    wait_for(lambda: is_ready(cluster.get("tenantsandbox", "omega")), what="sandbox Ready")
    assert cluster.get("namespace", "sbx-omega") is not None, "the sandbox's namespace is missing before the deletion"
    cluster.kubectl("delete", "tenantsandbox", "omega")
    wait_for(lambda: cluster.get("namespace", "sbx-omega") is None, what="namespace garbage-collected")
    assert cluster.list("secrets", namespace="sbx-omega") == []
    wait_for(lambda: "Sandbox omega deleted" in operator.logs(), what="deletion report in the log")
