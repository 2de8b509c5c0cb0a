"""CompliancePolicy end to end: the real operator process against the embedded API server over HTTP.

Covers: in audit mode every rule reports a compliant and a violating object (capabilities, plain
Deployments, channels, sandboxes) in wgpolicyk8s.io PolicyReports that match the v1alpha2 schema;
the `Compliant` condition names the failing rule ids; the policy's status counts objects; the
evidence log verifies and editing one line fails at that line; a settled policy writes nothing more. `finplane compliance preview` lists
exactly the capabilities that enforce then refuses with PolicyViolation and the rule id, while
enforce renders a schema-valid ValidatingAdmissionPolicy and Pod Security labels. A waiver turns
fail into skip (waived=true) and its expiry turns it back, with a WaiverExpired event.
A self-approved waiver is refused by the API server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support import Cluster, OperatorProcess, builders, condition, free_port, wait_for
from tests.support.builders import namespace

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
Obj = dict[str, Any]
DIGEST = "sha256:" + "b" * 64


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


@pytest.fixture
def op(cluster: Cluster, tmp_path: Path, evidence_dir: Path) -> Any:
    """The operator with its own evidence folder; the PolicyReport CRDs installed first."""
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds" / "extra"))
    proc = OperatorProcess(cluster=cluster, log_path=tmp_path / "operator.log", liveness_port=free_port(),
                           metrics_port=free_port(), extra_env={"FINPLANE_EVIDENCE_DIR": str(evidence_dir)})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def capability(name: str, image: str, **spec: Any) -> Obj:
    return builders.capability(name, image=image, **{"criticality": "high", **spec})


GOOD = capability("good", f"registry.finplane.local/payments/good@{DIGEST}", replicas=2,
                  resources={"limits": {"cpu": "500m", "memory": "256Mi"}})
BAD = capability("bad", "docker.io/library/nginx:latest", replicas=1, dataClassification="restricted")


def deployment(name: str, namespace: str, *, hardened: bool) -> Obj:
    container: Obj = {"name": "app", "image": "registry.finplane.local/tools/app:1.0"}
    labels: Obj = {}
    if hardened:
        container["securityContext"] = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                        "readOnlyRootFilesystem": True}
        container["resources"] = {"limits": {"cpu": "100m", "memory": "64Mi"}}
        labels = {"finplane.io/team": "tools"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace,
                                                                        "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def channel(name: str, type_: str, target: str, labels: Obj | None = None) -> Obj:
    return builders.channel(name, [builders.route("main", "payments", target)], type_=type_, labels=labels or {})


def sandbox(name: str, ttl: int) -> Obj:
    return builders.sandbox(name, ttlSeconds=ttl)


def policy(name: str, rules: list[Obj], *, mode: str = "audit", waivers: list[Obj] | None = None,
           **selector: Any) -> Obj:
    return builders.compliance_policy(name, rules, mode=mode, selector=selector, waivers=waivers or [])


DAY = 24 * 3600
WORKLOAD_RULES = [
    {"id": "allowed-registries", "parameters": {"registries": ["registry.finplane.local"]}},
    {"id": "image-digest-pinned"}, {"id": "no-latest-tag"},
    {"id": "resource-limits-set", "parameters": {"requireExplicit": True}},
    {"id": "minimum-replicas", "parameters": {"minReplicas": 2}},
    {"id": "data-classification-isolation"}, {"id": "owner-labels-present"},
    {"id": "sandbox-max-lifetime", "parameters": {"maxSeconds": 40 * DAY}},
    {"id": "sandbox-quota-present"}, {"id": "default-deny-network"},
]
RAW_RULES = [{"id": r} for r in ("run-as-non-root", "no-privilege-escalation", "read-only-root-filesystem",
                                 "resource-limits-set", "owner-labels-present", "default-deny-network")]


def results_of(cluster: Cluster, kind: str, name: str, namespace: str | None = None) -> dict[tuple[str, str], str]:
    report = cluster.get(kind, name, namespace)
    return {(r["resources"][0]["name"], r["rule"]): r["result"] for r in (report or {}).get("results", [])}


def schema(plural: str) -> Obj:
    crd = yaml.safe_load((REPO / "crds/extra" / f"wgpolicyk8s.io_{plural}.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_audit_reports_a_compliant_and_a_violating_object_for_every_rule(
        cluster: Cluster, op: OperatorProcess, evidence_dir: Path) -> None:
    cluster.apply([namespace("payments"), namespace("legacy"), namespace("secure")])
    cluster.apply([GOOD, BAD, channel("mobile", "mobile", "bad"),
                   channel("branch", "branch", "good", {"finplane.io/team": "branches"}),
                   sandbox("acme", 30 * DAY), sandbox("longlived", 60 * DAY),
                   deployment("rootful", "legacy", hardened=False), deployment("hardened", "secure", hardened=True),
                   {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "deny", "namespace": "secure"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}])
    cluster.apply([policy("workloads", WORKLOAD_RULES),
                   policy("raw", RAW_RULES, kinds=["Deployment"], namespaces=["legacy", "secure"])])

    caps = {("good", r): "pass" for r in ("allowed-registries", "image-digest-pinned", "no-latest-tag",
                                          "resource-limits-set", "minimum-replicas", "data-classification-isolation",
                                          "owner-labels-present", "default-deny-network")}
    caps |= {("bad", r): "fail" for r in ("allowed-registries", "image-digest-pinned", "no-latest-tag",
                                          "resource-limits-set", "minimum-replicas", "data-classification-isolation")}
    caps |= {("bad", "owner-labels-present"): "pass", ("bad", "default-deny-network"): "pass"}
    wait_for(lambda: results_of(cluster, "policyreport", "finplane-workloads", "payments") == caps and caps,
             timeout=40, what="the payments PolicyReport")
    cluster_wide = {("mobile", "data-classification-isolation"): "fail", ("mobile", "owner-labels-present"): "fail",
                    ("branch", "data-classification-isolation"): "pass", ("branch", "owner-labels-present"): "pass"}
    for sbx, lifetime in (("acme", "pass"), ("longlived", "fail")):
        cluster_wide |= {(sbx, "sandbox-max-lifetime"): lifetime, (sbx, "sandbox-quota-present"): "pass",
                         (sbx, "default-deny-network"): "pass", (sbx, "allowed-registries"): "pass",
                         (sbx, "owner-labels-present"): "pass"}
    seen = wait_for(lambda: (r := results_of(cluster, "clusterpolicyreport", "finplane-workloads")) and
                    all(r.get(k) == v for k, v in cluster_wide.items()) and r, timeout=40,
                    what="the cluster-wide report")
    assert {k for k in seen if k[0] in ("mobile", "branch")} == {k for k in cluster_wide if k[0] in ("mobile", "branch")}
    raw = {(d, r["id"]): ("pass" if d == "hardened" else "fail") for d in ("rootful", "hardened") for r in RAW_RULES}
    wait_for(lambda: results_of(cluster, "policyreport", "finplane-raw", "legacy") |
             results_of(cluster, "policyreport", "finplane-raw", "secure") == raw, timeout=30, what="raw reports")

    for report in cluster.list("policyreport") + cluster.list("clusterpolicyreport"):
        jsonschema.validate(report, schema(report["kind"].lower() + "s"))
    bad = wait_for(lambda: (c := condition(cluster.get("businesscapability", "bad", "payments"), "Compliant"))
                   and c["status"] == "False" and c, timeout=20, what="bad Compliant=False")
    assert "allowed-registries (workloads)" in bad["message"] and "no-latest-tag" in bad["message"]
    assert condition(cluster.get("businesscapability", "good", "payments"), "Compliant")["status"] == "True"
    assert condition(cluster.get("channel", "mobile"), "Compliant")["status"] == "False"
    status = wait_for(lambda: (p := cluster.get("compliancepolicy", "workloads")) and
                      p.get("status", {}).get("violating") == 3 and p["status"], timeout=20, what="policy counts")
    assert status["compliant"] == 3 and status["lastEvaluationTime"]

    if cluster.handle is not None:  # request counters exist only on the embedded API server
        time.sleep(1.0)  # let the last status write's own watch event come back and be reconciled
        before = cluster.writes_by("finplane-operator")
        lines_before = (evidence_dir / "evidence.jsonl").read_text().count("\n")
        time.sleep(3.0)
        assert cluster.writes_by("finplane-operator") == before, "a settled policy keeps writing"
        assert (evidence_dir / "evidence.jsonl").read_text().count("\n") == lines_before

    log = evidence_dir / "evidence.jsonl"
    verify = [sys.executable, "-m", "finplane", "evidence", "verify", "--path", str(log)]
    assert subprocess.run(verify, capture_output=True, text=True, check=False).returncode == 0
    lines = log.read_text().splitlines()
    entries = [json.loads(x) for x in lines]
    assert any(e.get("object") == "BusinessCapability/payments/bad" and e.get("result") == "fail" for e in entries)
    edited = json.loads(lines[2])
    edited["message"] = "nothing to see here"
    lines[2] = json.dumps(edited, sort_keys=True)
    log.write_text("\n".join(lines) + "\n")
    out = subprocess.run(verify, capture_output=True, text=True, check=False)
    assert out.returncode == 1 and "line 3" in out.stdout


def test_preview_lists_exactly_the_capabilities_enforce_then_refuses_with_the_rule_id(
        cluster: Cluster, op: OperatorProcess) -> None:
    cluster.apply(namespace("payments"))
    other = capability("other", "docker.io/library/redis:7.2", replicas=2)
    cluster.apply([GOOD, capability("tagged", "registry.finplane.local/payments/t:1.0", replicas=2), other])
    rules = [{"id": "allowed-registries", "parameters": {"registries": ["registry.finplane.local"]}},
             {"id": "run-as-non-root"}, {"id": "no-privilege-escalation"}]
    cluster.apply(policy("gate", rules, namespaces=["payments"]))
    preview = subprocess.run([sys.executable, "-m", "finplane", "compliance", "preview", "gate"],
                             capture_output=True, text=True, env=cluster.env, check=False)
    assert preview.returncode == 0, preview.stderr
    refused = {line.split()[2] for line in preview.stdout.splitlines() if line.startswith("REFUSED")}
    assert refused == {"payments/other"}
    assert "teams: payments" in preview.stdout
    assert "  reaches namespaces: payments" in preview.stdout.splitlines()  # what it selects, never kube-system

    cluster.apply(policy("gate", rules, mode="enforce", namespaces=["payments"]))
    c = wait_for(lambda: (c := condition(cluster.get("businesscapability", "other", "payments"), "Ready"))
                 and c.get("reason") == "PolicyViolation" and c, timeout=30, what="other refused")
    assert "rule allowed-registries" in c["message"]
    states = {n: (condition(cluster.get("businesscapability", n, "payments"), "Ready") or {}).get("reason")
              for n in ("good", "tagged", "other")}
    assert {n for n, r in states.items() if r == "PolicyViolation"} == {"payments/other".split("/")[1]}

    vap = wait_for(lambda: cluster.get("validatingadmissionpolicy", "finplane-gate"), timeout=20, what="VAP")
    binding = cluster.get("validatingadmissionpolicybinding", "finplane-gate")
    for obj in (vap, binding):
        clean = {k: v for k, v in obj.items() if k != "status"}
        clean["metadata"] = {"name": obj["metadata"]["name"], "labels": obj["metadata"].get("labels", {})}
        kubernetes_validate.validate(clean, "1.33", strict=True)
    labels = wait_for(lambda: (n := cluster.get("namespace", "payments")) and
                      n["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") and
                      n["metadata"]["labels"], timeout=20, what="PSA labels")
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_a_waiver_turns_fail_into_skip_and_its_expiry_turns_it_back_with_an_event(
        cluster: Cluster, op: OperatorProcess, evidence_dir: Path) -> None:
    cluster.apply(namespace("payments"))
    cluster.apply(capability("tagged", "registry.finplane.local/payments/t:1.0", replicas=2))
    expires = (datetime.now(UTC) + timedelta(seconds=8)).isoformat().replace("+00:00", "Z")
    waiver = {"name": "tags-ok", "ruleId": "image-digest-pinned",
              "objects": [{"kind": "BusinessCapability", "namespace": "payments"}],
              "justification": "The digest pipeline lands next quarter.", "riskRating": "low",
              "requestedBy": "lead@bank.example", "approvedBy": "ciso@bank.example", "ticket": "RISK-7",
              "expiresAt": expires}
    cluster.apply(policy("pins", [{"id": "image-digest-pinned"}], waivers=[waiver]))

    def result() -> Obj | None:
        report = cluster.get("policyreport", "finplane-pins", "payments")
        return next(iter((report or {}).get("results") or []), None)
    skipped = wait_for(lambda: (r := result()) and r["result"] == "skip" and r, timeout=20, what="skip")
    assert skipped["properties"]["waived"] == "true" and skipped["properties"]["ticket"] == "RISK-7"
    wait_for(lambda: (r := result()) and r["result"] == "fail", timeout=30, what="fail after expiry")
    events = cluster.list("event", "default")
    assert any(e["reason"] == "WaiverExpired" and e["involvedObject"]["name"] == "pins" for e in events)
    entries = [json.loads(x) for x in (evidence_dir / "evidence.jsonl").read_text().splitlines()]
    assert [e["type"] for e in entries if e["type"].startswith("waiver")] == ["waiver-granted", "waiver-expired"]


def test_a_self_approved_waiver_is_refused_by_the_api_server(cluster: Cluster) -> None:
    waiver = {"name": "mine", "ruleId": "no-latest-tag", "objects": [{"kind": "BusinessCapability"}],
              "justification": "I approve my own exception.", "riskRating": "high",
              "requestedBy": "me@bank.example", "approvedBy": "me@bank.example", "ticket": "RISK-9",
              "expiresAt": "2030-01-01T00:00:00Z"}
    text = yaml.safe_dump(policy("selfish", [{"id": "no-latest-tag"}], waivers=[waiver]))
    out = cluster.kubectl("apply", "--server-side", "-f", "-", input=text, check=False)
    assert out.returncode != 0 and "approved by someone other than its requester" in out.stderr
    assert cluster.get("compliancepolicy", "selfish") is None
