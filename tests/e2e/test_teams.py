"""End-to-end: Teams as tenants, with the real operator (ownership enforced) and the real platform API.

Covers, against the embedded API server: a Team becomes its namespaces (created, or adopted when labelled for it by
hand), each with restricted Pod Security labels, a ResourceQuota, a LimitRange, a default-deny NetworkPolicy and
the owners' and members' RoleBindings, and `kubectl get teams` shows them with their readiness; a capability
beyond the team quota is refused with QuotaExceeded naming what and by how much, and nothing of it is applied;
deleting another capability of the team makes room and it becomes Ready by itself; `owner.team` spoofing is
refused (TeamMismatch) and a capability in a namespace no Team owns gets TeamNotFound, nothing applied; adoption
never takes another team's namespace (nor kube-system); through the API, a JWKS-signed token's `groups` claim
gives the right team, and a token of team A can neither create nor read in team B's namespace, kube-system,
default or Finplane's namespace, and a token claiming `team: kube-system` gets nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import Cluster, OperatorProcess, condition, free_port, is_ready, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("teams")]

REPO = Path(__file__).resolve().parents[2]
API = "finplane.io/v1alpha1"
ISSUER = "https://idp.bank.example"
Obj = dict[str, Any]


def team(name: str, namespaces: list[str], *, group: str, quota: Obj | None = None, **extra: Any) -> Obj:
    spec: Obj = {"displayName": name.title(), "contact": {"email": f"{name}@bank.example", "onCall": f"#{name}"},
                 "owners": [{"kind": "Group", "name": f"{group}-leads"}],
                 "members": [{"kind": "Group", "name": group}], "namespaces": namespaces, **extra}
    if quota:
        spec["quota"] = quota
    return {"apiVersion": API, "kind": "Team", "metadata": {"name": name}, "spec": spec}


def capability(name: str, namespace: str, *, team_name: str | None = None, replicas: int = 1) -> Obj:
    return {"apiVersion": API, "kind": "BusinessCapability", "metadata": {"name": name, "namespace": namespace},
            "spec": {"owner": {"team": team_name or namespace, "contact": "x@bank.example"}, "domain": "payments",
                     "image": f"registry.finplane.local/{namespace}/{name}:1.0", "replicas": replicas,
                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}}


class Stack:
    """The embedded API server with the CRDs, the operator (FINPLANE_TEAM_OWNERSHIP=enforce) and the API (JWKS)."""

    def __init__(self, tmp: Path) -> None:
        from finplane_emulator.testing import start_apiserver

        self.handle = start_apiserver(tmp / "apiserver")
        self.cluster = Cluster(kubeconfig=Path(self.handle.kubeconfig), url=self.handle.url, handle=self.handle)
        self.cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        self.operator = OperatorProcess(cluster=self.cluster, log_path=tmp / "operator.log", liveness_port=free_port(),
                                        metrics_port=free_port(), extra_env={"FINPLANE_TEAM_OWNERSHIP": "enforce"})
        self.operator.start()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "idp-1", "use": "sig", "alg": "RS256"})
        (tmp / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig), "FINPLANE_API_JWKS": str(tmp / "jwks.json"),
               "FINPLANE_API_ISSUER": ISSUER, "FINPLANE_API_TEAM_OWNERSHIP": "enforce",
               "FINPLANE_API_ADMIN_GROUPS": '["platform-admins"]', "FINPLANE_EVIDENCE_DIR": str(tmp / "evidence"),
               "FINPLANE_API_RATE_LIMIT_PER_SECOND": "1000", "FINPLANE_API_RATE_LIMIT_BURST": "5000"}
        self.api_log = open(tmp / "api.log", "w")  # noqa: SIM115 - the child's stderr for its lifetime
        self.api = subprocess.Popen([sys.executable, "-m", "finplane", "api", "--port", "0"], env=env,
                                    stdout=subprocess.PIPE, stderr=self.api_log, text=True)
        line = self.api.stdout.readline() if self.api.stdout else ""
        assert "listening on" in line, f"the API did not start: {line}{(tmp / 'api.log').read_text()}"
        threading.Thread(target=lambda: [None for _ in self.api.stdout or ()], daemon=True).start()
        self.http = httpx.Client(base_url=line.rsplit(" ", 1)[-1].strip(), timeout=10)
        wait_for(lambda: self.http.get("/readyz").status_code == 200, timeout=30, what="API ready")

    def token(self, **claims: Any) -> dict[str, str]:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": "finplane-api", "sub": "alice", "iat": now, "exp": now + 600, **claims}
        return {"Authorization": f"Bearer {jwt.encode(body, self.key, algorithm='RS256', headers={'kid': 'idp-1'})}"}

    def ready(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        return wait_for(lambda: (o := self.cluster.get(kind, name, namespace)) and is_ready(o) and o,
                        timeout=60, what=f"{kind} {name} Ready")

    def reason(self, kind: str, name: str, namespace: str | None = None) -> str | None:
        return ((condition(self.cluster.get(kind, name, namespace), "Ready")) or {}).get("reason")

    def stop(self) -> None:
        if self.api.poll() is None:
            self.api.terminate()
            self.api.wait(timeout=10)
        self.api_log.close()
        self.operator.stop()
        self.handle.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("teams"))
    try:
        s.cluster.apply([
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finplane-system"}},
            # labelled by hand before Teams existed: the kyc Team adopts it (the documented migration)
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kyc",
                                                                 "labels": {"finplane.io/team": "kyc"}}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "orphan"}},
            team("payments", ["payments", "payments-batch"], group="payments-devs",
                 quota={"capabilities": 2, "cpu": "1"}),
            team("kyc", ["kyc"], group="kyc-devs"),
        ])
        s.ready("Team", "payments")
        s.ready("Team", "kyc")
        yield s
    finally:
        s.stop()


def test_a_team_becomes_its_namespaces_guard_rails_and_role_bindings(stack: Stack) -> None:
    c = stack.cluster
    for ns in ("payments", "payments-batch"):
        labels = c.get("Namespace", ns)["metadata"]["labels"]  # type: ignore[index]
        assert labels["finplane.io/team"] == "payments"
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert c.get("ResourceQuota", "team-quota", ns)["spec"]["hard"]["pods"] == "50"  # type: ignore[index]
        assert c.get("LimitRange", "team-limits", ns) is not None
        deny = c.get("NetworkPolicy", "team-default-deny", ns)
        assert deny is not None and deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        members = c.get("RoleBinding", "team-members", ns)
        assert members is not None and members["subjects"][0]["name"] == "payments-devs"
        assert c.get("RoleBinding", "team-owners", ns)["subjects"][0]["name"] == "payments-devs-leads"  # type: ignore[index]
    kyc = c.get("Team", "kyc")
    assert [(n["name"], n["state"]) for n in kyc["status"]["namespaces"]] == [("kyc", "Adopted")]  # type: ignore[index]
    table = c.kubectl("get", "teams").stdout
    header, *rows = table.strip().splitlines()
    assert header.split()[:4] == ["NAME", "READY", "DISPLAY-NAME", "NAMESPACES"]
    assert {r.split()[0]: r.split()[1:4] for r in rows} == {"kyc": ["True", "Kyc", "1"],
                                                            "payments": ["True", "Payments", "2"]}
    assert "payments" in c.kubectl("get", "tm", "payments").stdout


def test_a_capability_beyond_the_team_quota_is_refused_until_another_makes_room(stack: Stack) -> None:
    c = stack.cluster
    c.apply([capability("pay-a", "payments"), capability("pay-b", "payments-batch", team_name="payments")])
    stack.ready("BusinessCapability", "pay-a", "payments")
    stack.ready("BusinessCapability", "pay-b", "payments-batch")
    c.apply(capability("pay-c", "payments"))
    wait_for(lambda: stack.reason("BusinessCapability", "pay-c", "payments") == "QuotaExceeded", timeout=30,
             what="pay-c refused with QuotaExceeded")
    message = condition(c.get("BusinessCapability", "pay-c", "payments"), "Ready")["message"]  # type: ignore[index]
    assert "would use 3 capabilities of its quota of 2 (over by 1)" in message
    assert c.get("Deployment", "pay-c", "payments") is None and c.get("ServiceAccount", "pay-c", "payments") is None
    usage = wait_for(lambda: (u := (c.get("Team", "payments") or {}).get("status", {}).get("usage")) and
                     u["capabilities"] == 2 and u, timeout=30, what="usage in the Team's status")
    assert usage == {"cpu": "200m", "memory": "128Mi", "pods": 2, "capabilities": 2}
    assert c.get("Team", "payments")["status"]["refusedCapabilities"] == ["payments/pay-c"]  # type: ignore[index]

    c.kubectl("delete", "businesscapability", "pay-a", "-n", "payments")
    stack.ready("BusinessCapability", "pay-c", "payments")  # nobody touched pay-c
    assert c.get("Deployment", "pay-c", "payments") is not None


def test_owner_team_spoofing_and_a_namespace_no_team_owns_are_refused_with_nothing_applied(stack: Stack) -> None:
    c = stack.cluster
    c.apply([capability("spoof", "payments", team_name="kyc"), capability("stray", "orphan")])
    wait_for(lambda: stack.reason("BusinessCapability", "spoof", "payments") == "TeamMismatch", timeout=30,
             what="TeamMismatch")
    wait_for(lambda: stack.reason("BusinessCapability", "stray", "orphan") == "TeamNotFound", timeout=30,
             what="TeamNotFound")
    for name, ns in (("spoof", "payments"), ("stray", "orphan")):
        assert c.get("Deployment", name, ns) is None and c.get("ServiceAccount", name, ns) is None
        assert c.get("NetworkPolicy", f"{name}-default-deny", ns) is None
    assert not [d for d in c.list("Deployment", "payments") if d["metadata"]["labels"].get("finplane.io/team") == "kyc"]


def test_adoption_never_takes_another_teams_namespace_or_kube_system(stack: Stack) -> None:
    c = stack.cluster
    c.apply(team("intruder", ["kyc", "kube-system", "intruder"], group="intruders"))
    wait_for(lambda: stack.reason("Team", "intruder") == "NamespaceRefused", timeout=30, what="NamespaceRefused")
    states = {n["name"]: n["state"] for n in c.get("Team", "intruder")["status"]["namespaces"]}  # type: ignore[index]
    assert states == {"kyc": "Refused", "kube-system": "Refused", "intruder": "Created"}
    assert c.get("Namespace", "kyc")["metadata"]["labels"]["finplane.io/team"] == "kyc"  # type: ignore[index]
    assert "finplane.io/team" not in (c.get("Namespace", "kube-system")["metadata"].get("labels") or {})  # type: ignore[index]
    for ns in ("kyc", "kube-system"):
        bindings = [b for b in c.list("RoleBinding", ns) if any(s["name"] == "intruders" for s in b.get("subjects") or [])]
        assert bindings == []
    assert is_ready(c.get("Team", "kyc"))


def test_through_the_api_group_membership_gives_the_team_and_nothing_else(stack: Stack) -> None:
    http, caps = stack.http, "/api/v1/teams/{}/capabilities"
    dev = stack.token(groups=["payments-devs"])
    listed = wait_for(lambda: (r := http.get(caps.format("payments"), headers=dev)).status_code == 200 and r.json(),
                      timeout=30, what="payments capabilities through the API")
    assert "pay-c" in {i["name"] for i in listed["items"]}  # the team path's namespace (payments)
    kyc_view = http.get(caps.format("kyc"), headers=stack.token(groups=["kyc-devs"])).json()["items"]
    assert "spoof" not in {i["name"] for i in kyc_view}  # claiming owner.team: kyc in payments gives kyc nothing
    created = http.post(caps.format("payments"), headers=dev, json={"name": "pay-api", "spec": {
        "owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
        "image": "registry.finplane.local/payments/pay-api:1.0"}})
    assert created.status_code == 201, created.text
    for target in ("kyc", "kube-system", "default", "finplane-system"):
        spec = {"owner": {"team": target, "contact": "x@evil.example"}, "domain": "x", "image": "evil/x:1"}
        for headers in (dev, stack.token(role="team", team=target), stack.token(role="team", team=target,
                                                                                groups=["payments-devs"])):
            assert http.post(caps.format(target), headers=headers, json={"name": "evil", "spec": spec}).status_code \
                == 404
            assert http.get(caps.format(target), headers=headers).status_code == 404
    assert stack.cluster.list("BusinessCapability", "kube-system") == []
    assert [o["metadata"]["name"] for o in stack.cluster.list("BusinessCapability", "kyc")] == []
    detail = http.get("/api/v1/teams/payments", headers=dev).json()
    assert detail["namespaces"] == ["payments", "payments-batch"] and detail["yourRole"] == "member"
    assert detail["quota"]["total"] == {"capabilities": 2, "cpu": "1"}
    assert http.get("/api/v1/teams/kyc", headers=dev).status_code == 404
    admin = http.get("/api/v1/teams", headers=stack.token(groups=["platform-admins"])).json()
    assert {t["name"] for t in admin["items"]} >= {"payments", "kyc"}


def test_the_teams_allow_lists_refuse_other_registries_and_classifications(stack: Stack) -> None:
    c = stack.cluster
    c.apply(team("vault", ["vault"], group="vault-devs", allowedRegistries=["internal"],
                 allowedClassifications=["public", "internal"]))
    stack.ready("Team", "vault")
    wrong_registry = capability("pull-elsewhere", "vault")
    wrong_registry["spec"]["registryRef"] = "docker-hub"
    too_secret = capability("secrets", "vault")
    too_secret["spec"]["dataClassification"] = "restricted"
    c.apply([wrong_registry, too_secret])
    wait_for(lambda: stack.reason("BusinessCapability", "pull-elsewhere", "vault") == "RegistryNotAllowed",
             timeout=30, what="RegistryNotAllowed")
    wait_for(lambda: stack.reason("BusinessCapability", "secrets", "vault") == "ClassificationNotAllowed",
             timeout=30, what="ClassificationNotAllowed")
    assert c.list("Deployment", "vault") == []


def test_deleting_a_team_keeps_a_namespace_holding_capabilities_and_says_what_is_left(stack: Stack) -> None:
    c = stack.cluster
    c.apply(team("lab", ["lab-empty", "lab-busy"], group="lab-devs"))
    stack.ready("Team", "lab")
    c.apply(capability("experiment", "lab-busy", team_name="lab"))
    stack.ready("BusinessCapability", "experiment", "lab-busy")
    c.kubectl("delete", "team", "lab", "--wait=false")
    wait_for(lambda: c.get("Team", "lab") is None, timeout=30, what="the Team to go")
    gone = wait_for(lambda: (ns := c.get("Namespace", "lab-empty")) is None or
                    bool(ns["metadata"].get("deletionTimestamp")) or None, timeout=30, what="lab-empty deleted")
    assert gone
    busy = c.get("Namespace", "lab-busy")
    assert busy is not None and not busy["metadata"].get("deletionTimestamp")
    assert c.get("BusinessCapability", "experiment", "lab-busy") is not None
    events = [e for e in c.list("Event", "default") if e.get("reason") == "TeamDeleted"]
    assert events and "kept lab-busy (kept: holds 1 capability(ies))" in events[-1]["message"]
    assert "deleted lab-empty" in events[-1]["message"]
