"""End to end over HTTP with the REAL operator: the embedded API server, `finplane operator` and
`finplane api`, the last two sharing one evidence folder (FINPLANE_EVIDENCE_DIR).

Covers: a partner requests a sandbox through the API, an admin who is not the requester approves
it, the operator provisions it, the partner receives its credential exactly once (later reads show
only the fingerprint) and that credential is the value in the sandbox's Secret; a requester cannot
approve its own request and nothing is provisioned meanwhile; a team creates a capability through
the API and sees it Ready in the catalog (status written by the operator, read from the API's
cache); a waiver requested by a team and approved by another identity turns a fail into skip in the
results read through the API; after all this `finplane evidence verify` accepts the one chain both
processes wrote, and the API's verify and export show the API's changes next to the operator's.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from platform_api.auth import devkey
from platform_api.settings import ApiSettings
from tests.support import Cluster, OperatorProcess, free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-operator")]

REPO = Path(__file__).resolve().parents[2]
API = "finplane.io/v1alpha1"
PAT = {"role": "team", "team": "payments", "subject": "pat"}
ADA = {"role": "admin", "subject": "ada"}
BOB = {"role": "admin", "subject": "bob"}
AUDREY = {"role": "auditor", "subject": "audrey"}
ACME = {"role": "partner", "partner": "acme", "subject": "acme-bot"}


class Api:
    """The `finplane api` process against a cluster, with a token minter and an HTTP client."""

    def __init__(self, tmp: Path, *, kubeconfig: Path, evidence_dir: Path) -> None:
        self.settings = ApiSettings(dev_mode=True, dev_key_dir=tmp / "keys")
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "FINPLANE_API_DEV_MODE": "true",
               "FINPLANE_API_DEV_KEY_DIR": str(tmp / "keys"), "FINPLANE_API_AUDIT_LOG": str(tmp / "audit.jsonl"),
               "FINPLANE_EVIDENCE_DIR": str(evidence_dir), "FINPLANE_API_RATE_LIMIT_PER_SECOND": "1000",
               "FINPLANE_API_RATE_LIMIT_BURST": "5000"}
        self.log = open(tmp / "api.log", "w")  # noqa: SIM115 - the child's stderr for its lifetime
        self.process = subprocess.Popen([sys.executable, "-m", "finplane", "api", "--port", "0"], env=env,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the API did not start: {line}{(tmp / 'api.log').read_text()}")
        threading.Thread(target=lambda: [None for _ in self.process.stdout or ()], daemon=True).start()
        self.http = httpx.Client(base_url=line.rsplit(" ", 1)[-1].strip(), timeout=10)
        wait_for(lambda: self.http.get("/readyz").status_code == 200, timeout=30, what="API ready")

    def as_(self, role: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {devkey.mint(role=role, settings=self.settings, **kw)}"}

    def reviewed(self, who: dict[str, Any], sandbox: str) -> dict[str, str]:
        """The caller's headers with If-Match: the sandbox's ETag as the caller read it."""
        headers = self.as_(**who)
        return {**headers, "If-Match": self.http.get(f"/api/v1/sandboxes/{sandbox}", headers=headers).headers["etag"]}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def evidence_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("evidence")


@pytest.fixture(scope="module")
def operator(module_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory,
             evidence_dir: Path) -> Iterator[OperatorProcess]:
    module_cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds" / "extra"))  # PolicyReport CRDs
    module_cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}}])
    proc = OperatorProcess(cluster=module_cluster, log_path=tmp_path_factory.mktemp("operator") / "operator.log",
                           liveness_port=free_port(), metrics_port=free_port(),
                           extra_env={"FINPLANE_EVIDENCE_DIR": str(evidence_dir)})
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def api(module_cluster: Cluster, operator: OperatorProcess, tmp_path_factory: pytest.TempPathFactory,
        evidence_dir: Path) -> Iterator[Api]:
    a = Api(tmp_path_factory.mktemp("api"), kubeconfig=module_cluster.kubeconfig, evidence_dir=evidence_dir)
    yield a
    a.stop()


def sandbox_request(name: str, partner: str = "acme") -> dict[str, Any]:
    return {"name": name, "termsAccepted": True,
            "spec": {"partner": {"name": partner, "organisation": f"{partner} Ltd", "contact": f"ops@{partner}.example"},
                     "tier": "small", "ttlSeconds": 7 * 86400}}


def capability(name: str, image: str) -> dict[str, Any]:
    return {"name": name, "spec": {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
                                   "image": image, "description": f"{name} for the e2e test"}}


def test_a_partner_gets_an_approved_sandbox_and_its_credential_exactly_once(
        api: Api, module_cluster: Cluster) -> None:
    created = api.http.post("/api/v1/sandboxes", headers=api.as_(**ACME), json=sandbox_request("acme--one"))
    assert created.status_code == 201, created.text
    assert created.json()["approval"] == "pending"
    wait_for(lambda: any(c.get("reason") == "AwaitingApproval" for c in (module_cluster.get(
        "tenantsandbox", "acme--one") or {}).get("status", {}).get("conditions", [])), what="AwaitingApproval")
    assert module_cluster.get("namespace", "sbx-acme--one") is None

    approved = api.http.post("/api/v1/sandboxes/acme--one/approve", headers=api.reviewed(ADA, "acme--one"), json={})
    assert approved.status_code == 200, approved.text
    assert approved.json()["decidedBy"] == "ada"

    def first_read() -> dict[str, Any] | None:
        body = api.http.get("/api/v1/sandboxes/acme--one", headers=api.as_(**ACME)).json()
        return body if body.get("credential") else None

    shown = wait_for(first_read, timeout=60, what="sandbox provisioned with a credential")
    key = shown["credential"]["value"]
    assert key and shown["phase"] == "Active"
    secret = module_cluster.get("secret", "partner-api-credential", "sbx-acme--one")
    assert base64.b64decode(secret["data"]["api-key"]).decode() == key

    again = api.http.get("/api/v1/sandboxes/acme--one", headers=api.as_(**ACME)).json()
    assert again["credential"] == {"fingerprint": shown["credential"]["fingerprint"], "value": None, "shown": True}
    assert key not in api.http.get("/api/v1/sandboxes/acme--one", headers=api.as_(**AUDREY)).text


def test_the_requester_cannot_approve_its_own_sandbox_request(api: Api, module_cluster: Cluster) -> None:
    assert api.http.post("/api/v1/sandboxes", headers=api.as_(**ADA),
                         json=sandbox_request("acme--self")).status_code == 201
    refused = api.http.post("/api/v1/sandboxes/acme--self/approve", headers=api.reviewed(ADA, "acme--self"), json={})
    assert (refused.status_code, refused.json()["reason"]) == (403, "SelfApproval")
    assert api.http.get("/api/v1/sandboxes/acme--self", headers=api.as_(**ADA)).json()["approval"] == "pending"
    assert module_cluster.get("namespace", "sbx-acme--self") is None


def test_a_capability_created_by_a_team_becomes_ready_in_the_catalog(api: Api) -> None:
    resp = api.http.post("/api/v1/teams/payments/capabilities", headers=api.as_(**PAT),
                         json=capability("ledger", "registry.bank.example/ledger:1.0"))
    assert resp.status_code == 201, resp.text
    assert resp.json()["ready"] is not True  # nothing has been provisioned at creation

    def ready() -> dict[str, Any] | None:
        entry = api.http.get("/api/v1/catalog/payments/ledger", headers=api.as_(**PAT)).json()
        return entry if entry.get("ready") is True else None

    entry = wait_for(ready, timeout=60, what="capability Ready in the catalog")
    assert (entry["team"], entry["domain"]) == ("payments", "payments")


def test_a_waiver_requested_and_approved_by_two_identities_turns_a_fail_into_skip(
        api: Api, module_cluster: Cluster) -> None:
    module_cluster.apply({"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "tags"},
                          "spec": {"mode": "audit", "selector": {"namespaces": ["payments"]},
                                   "rules": [{"id": "no-latest-tag"}]}})
    assert api.http.post("/api/v1/teams/payments/capabilities", headers=api.as_(**PAT),
                         json=capability("legacy", "registry.bank.example/legacy:latest")).status_code == 201

    def result_of_legacy() -> str | None:
        items = api.http.get("/api/v1/compliance/results?policy=tags&rule=no-latest-tag",
                             headers=api.as_(**PAT)).json()["items"]
        found = [i for i in items if any(r.get("name") == "legacy" for r in i["resources"])]
        return found[0]["result"] if found else None

    assert wait_for(result_of_legacy, timeout=60, what="a result for legacy") == "fail"
    # Pending requests are ConfigMaps in the API's own namespace (the chart's release namespace).
    module_cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finplane-system"}})
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds").replace("+00:00", "Z")
    requested = api.http.post("/api/v1/compliance/waivers", headers=api.as_(**PAT), json={
        "policy": "tags", "rule": "no-latest-tag",
        "resources": [{"kind": "BusinessCapability", "namespace": "payments", "name": "legacy"}],
        "justification": "the vendor publishes only latest until Q3", "risk": "low", "ticket": "RISK-42",
        "expiresAt": expires})
    assert requested.status_code == 201, requested.text
    wid = requested.json()["id"]
    approved = api.http.post(f"/api/v1/compliance/policies/tags/waivers/{wid}/approve", headers=api.as_(**BOB))
    assert approved.status_code == 200, approved.text

    wait_for(lambda: result_of_legacy() == "skip", timeout=60, what="the waived result")
    items = api.http.get("/api/v1/compliance/results?policy=tags&result=skip", headers=api.as_(**AUDREY)).json()
    (waived,) = [i for i in items["items"] if any(r.get("name") == "legacy" for r in i["resources"])]
    assert (waived["properties"]["waived"], waived["properties"]["waiver"]) == ("true", wid)


def test_the_one_chain_verifies_and_the_export_shows_api_changes_beside_the_operators(
        api: Api, module_cluster: Cluster, evidence_dir: Path) -> None:
    assert api.http.post("/api/v1/teams/payments/capabilities", headers=api.as_(**PAT),
                         json=capability("audit-trail", "registry.bank.example/trail:1.0")).status_code == 201
    assert api.http.post("/api/v1/sandboxes", headers=api.as_(**ACME),
                         json=sandbox_request("acme--two")).status_code == 201
    api.http.post("/api/v1/sandboxes/acme--two/approve", headers=api.reviewed(ADA, "acme--two"), json={})

    cli = subprocess.run([sys.executable, "-m", "finplane", "evidence", "verify"], capture_output=True, text=True,
                         env={**module_cluster.env, "FINPLANE_EVIDENCE_DIR": str(evidence_dir)}, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    verified = api.http.get("/api/v1/compliance/evidence/verify", headers=api.as_(**AUDREY)).json()
    assert verified["ok"] is True and verified["head"] in cli.stdout

    today = datetime.now(UTC).date()
    bundle = api.http.get(f"/api/v1/compliance/evidence/export?from={today}&to={today + timedelta(days=1)}",
                          headers=api.as_(**AUDREY)).json()
    assert bundle["chainVerified"] is True
    changes = {(e["action"], e["object"], e["actor"]) for e in bundle["entries"] if e["type"] == "api-change"}
    assert ("create", "BusinessCapability/payments/audit-trail", "pat") in changes
    assert ("approve", "TenantSandbox/acme--two", "ada") in changes
    assert any(e["type"] == "result" for e in bundle["entries"])  # the operator's, in the same chain
