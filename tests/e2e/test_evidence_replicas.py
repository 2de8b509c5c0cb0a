"""Several replicas, one record, end to end: two `finplane api` processes and two peered operators (one active)
on the embedded API server, every process writing its own chain of one evidence folder, as the chart runs them.

Covers: every process signs with the key of one shared Secret (created by the first to start, its public
half published in a ConfigMap, nothing of it on the evidence volume); changes made through either API replica and the active operator's results land in one record that
verifies (`finplane evidence verify --path DIR --kubeconfig`, anchored on the policy's recorded head) with one
chain per process; stopping the active operator hands over to the standby, which records what changes after the
failover without recording again what the first one recorded (nothing forked: no result recorded twice in a
row, the standby wrote nothing while it stood by); nothing lost: every authenticated change either API replica
made is in that replica's chain, and every chain is witnessed by the chain opened after it. Then, as someone
who can write the volume: removing one API replica's chain fails the verification, naming it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from finplane.commands.evidence import verify
from finplane.policy.evidence_anchors import anchors_from_policies
from finplane.policy.evidence_keys import load_public_key
from finplane.policy.evidence_merge import verify_record
from platform_api.auth import devkey
from platform_api.settings import ApiSettings
from tests.support import REPO, Cluster, PeeredOperator, condition, free_port, wait_for
from tests.support.builders import compliance_policy, namespace

pytestmark = pytest.mark.e2e
PEERING = "finplane-evidence"
PAT = {"role": "team", "team": "payments", "subject": "pat"}
KEY = {"FINPLANE_EVIDENCE_KEY_SECRET": "finplane-system/finplane-evidence-key"}  # as the chart sets it
Obj = dict[str, Any]


class ApiReplica:
    """One `finplane api` process with its own evidence writer id, sharing the evidence folder and dev keys."""

    def __init__(self, tmp: Path, name: str, *, cluster: Cluster, evidence: Path, keys: Path) -> None:
        self.name = name
        self.settings = ApiSettings(dev_mode=True, dev_key_dir=keys)
        self.audit = tmp / f"{name}-audit.jsonl"
        env = {**cluster.env, "FINPLANE_API_DEV_MODE": "true", "FINPLANE_API_DEV_KEY_DIR": str(keys),
               "FINPLANE_API_AUDIT_LOG": str(self.audit), "FINPLANE_EVIDENCE_DIR": str(evidence),
               "FINPLANE_EVIDENCE_WRITER": name, "FINPLANE_API_RATE_LIMIT_PER_SECOND": "1000", **KEY}
        self.log = open(tmp / f"{name}.log", "w")  # noqa: SIM115 - the child's stderr for its lifetime
        self.process = subprocess.Popen([sys.executable, "-m", "finplane", "api", "--port", "0"], env=env,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=REPO)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the API did not start: {line}{(tmp / f'{name}.log').read_text()}")
        threading.Thread(target=lambda: [None for _ in self.process.stdout or ()], daemon=True).start()
        self.http = httpx.Client(base_url=line.rsplit(" ", 1)[-1].strip(), timeout=10)
        wait_for(lambda: self.http.get("/readyz").status_code == 200, timeout=30, what=f"{name} ready")

    def create(self, name: str, image: str) -> None:
        token = devkey.mint(settings=self.settings, **PAT)
        resp = self.http.post("/api/v1/teams/payments/capabilities", headers={"Authorization": f"Bearer {token}"},
                              json={"name": name, "spec": {"owner": {"team": "payments", "contact": "p@bank.example"},
                                                           "domain": "payments", "image": image}})
        assert resp.status_code == 201, resp.text

    def authenticated_changes(self) -> int:
        return sum(1 for line in self.audit.read_text().splitlines() if json.loads(line).get("actor"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def chain(evidence: Path, writer: str) -> list[Obj]:
    path = evidence / "chains" / f"{writer}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def results_of(evidence: Path, writer: str, name: str) -> list[str]:
    return [e["result"] for e in chain(evidence, writer) if e["type"] == "result" and e["key"].endswith(f"/{name}")]


@pytest.fixture
def stack(cluster: Cluster, tmp_path: Path) -> Iterator[dict[str, Any]]:
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "charts/finplane/crds/kopf.dev_peerings.yaml"))
    cluster.apply([namespace("payments"), namespace("finplane-system"),
                   {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": PEERING}}])
    evidence = tmp_path / "evidence"
    started: list[Any] = []

    def operator(writer: str, priority: int) -> PeeredOperator:
        proc = PeeredOperator(cluster=cluster, log_path=tmp_path / f"{writer}.log", liveness_port=free_port(),
                              metrics_port=free_port(), peering=PEERING, priority=priority,
                              extra_env={"FINPLANE_EVIDENCE_DIR": str(evidence), "FINPLANE_EVIDENCE_WRITER": writer,
                                         "FINPLANE_POLICY_REPORTS_ENABLED": "false",
                                         "FINPLANE_PEERING_LIFETIME_SECONDS": "10", **KEY})
        proc.start()
        started.append(proc)
        return proc

    try:
        op_a = operator("op-a", 200)
        op_b = operator("op-b", 100)
        apis = [ApiReplica(tmp_path, f"api-{i}", cluster=cluster, evidence=evidence, keys=tmp_path / "keys")
                for i in (1, 2)]
        started += apis
        yield {"evidence": evidence, "op_a": op_a, "op_b": op_b, "apis": apis}
    finally:
        for proc in reversed(started):
            proc.stop()


def test_two_api_replicas_and_an_operator_failover_keep_one_verifiable_record(
        stack: dict[str, Any], cluster: Cluster) -> None:
    evidence, op_a, op_b, (api_1, api_2) = stack["evidence"], stack["op_a"], stack["op_b"], stack["apis"]
    wait_for(lambda: "Pausing operations in favour of" in op_b.logs(), timeout=60, what="op-b standing by")
    cluster.apply(compliance_policy("tags", [{"id": "no-latest-tag"}], mode="audit", selector={}, waivers=[]))
    api_1.create("pay", "registry.bank.example/pay:latest")
    api_2.create("fx", "registry.bank.example/fx:1.0")
    wait_for(lambda: results_of(evidence, "op-a", "pay") == ["fail"] and results_of(evidence, "op-a", "fx") == ["pass"],
             timeout=60, what="op-a recording both results")

    op_a.stop()  # SIGTERM: kopf leaves the peering, the standby takes over
    handed_over_after = chain(evidence, "op-a")[-1]["time"]
    api_2.create("kyc", "registry.bank.example/kyc:latest")
    wait_for(lambda: results_of(evidence, "op-b", "kyc") == ["fail"], timeout=90, what="op-b recording after failover")
    api_1.create("ledger", "registry.bank.example/ledger:1.0")
    wait_for(lambda: results_of(evidence, "op-b", "ledger") == ["pass"], timeout=60, what="op-b's next result")
    policy = wait_for(lambda: (p := cluster.get("compliancepolicy", "tags")) and (c := condition(p, "Ready")) and
                      c["status"] == "True" and p["status"]["evidence"]["headHash"] == chain(evidence, "op-b")[-1]["hash"]
                      and p, timeout=30, what="the policy recording op-b's head")

    published = cluster.get("configmap", "finplane-evidence-key-public", "finplane-system")
    assert published is not None and "PRIVATE" not in json.dumps(published)
    (evidence.parent / "public.pem").write_text(published["data"]["public-key.pem"])
    keys = load_public_key(evidence.parent / "public.pem")
    assert not (evidence / "keys").exists()  # every process signed with the Secret's key, none on the volume
    rv = verify_record(evidence, keys=keys, anchors=anchors_from_policies([policy]))
    assert rv.ok, rv.problems
    assert {e["kid"] for e in rv.entries} == {published["data"]["kid"]}
    assert sorted(rv.chains) == ["api-1", "api-2", "op-a", "op-b"]
    # nothing forked: the standby wrote nothing before the handover, and no result is recorded twice in a row
    assert all(e["time"] > handed_over_after for e in chain(evidence, "op-b"))
    last: dict[str, str] = {}
    for e in rv.entries:
        if e["type"] == "result":
            assert last.get(e["key"]) != e["result"], f"{e['key']} recorded {e['result']} twice"
            last[e["key"]] = e["result"]
    assert results_of(evidence, "op-b", "pay") == [] and results_of(evidence, "op-b", "fx") == []
    # nothing lost: every authenticated change of each replica is in its chain, and op-b witnessed op-a's end
    for api in (api_1, api_2):
        assert sum(1 for e in chain(evidence, api.name) if e["type"] == "api-change") == api.authenticated_changes()
    opened = chain(evidence, "op-b")[0]
    assert opened["type"] == "chain-opened" and opened["heads"]["op-a"]["hash"] == chain(evidence, "op-a")[-1]["hash"]

    assert verify(evidence, kubeconfig=cluster.kubeconfig) == 0  # the CLI, anchored on the cluster's policy
    auditor = {"Authorization": f"Bearer {devkey.mint(settings=api_2.settings, role='auditor', subject='audrey')}"}
    assert api_2.http.get("/api/v1/compliance/evidence/public-key", headers=auditor).json()["kid"] == \
        published["data"]["kid"]
    through_api = api_2.http.get("/api/v1/compliance/evidence/verify", headers=auditor).json()
    assert through_api["ok"] is True, through_api
    assert through_api["anchors"] == ["the status of CompliancePolicy tags"]

    (evidence / "chains" / "api-2.jsonl").unlink()  # someone with write access to the volume
    rv = verify_record(evidence, keys=keys)
    assert not rv.ok and any("chain api-2" in p and "missing" in p for p in rv.problems), rv.problems
    api_1.create("after-removal", "registry.bank.example/x:1.0")  # wakes the policy: the operator looks again
    wait_for(lambda: (c := condition(cluster.get("compliancepolicy", "tags"), "Ready")) and
             c["reason"] == "EvidenceCorrupt" and "api-2" in c["message"], timeout=60,
             what="the running operator reporting the removed chain")
