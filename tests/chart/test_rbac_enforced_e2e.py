"""The chart's real roles, enforced: the operator and the platform API run as the chart's ServiceAccounts
against the embedded API server with RBAC and admission on (`--secure`: RBAC authorization, the
ServiceAccount, DefaultTolerationSeconds, PodSecurity and ValidatingAdmissionPolicy plugins).

The chart is rendered with the real Helm library and applied as the cluster admin; each process gets a
kubeconfig holding a TokenRequest token of its chart ServiceAccount, so every request it makes is
authorised by the chart's ClusterRoles and bindings, as on a cluster. Covers:
- the operator reconciles the examples (and a second sandbox, and an enforce-mode policy) with no
  Forbidden condition anywhere; the platform API becomes ready (its informers list and watch) under its role;
  both sign evidence with the release's key Secret, which one of them created under the chart's evidence-key
  Role, and the operator published its public half (never the private key) in the public-key ConfigMap;
- a member of one sandbox (a static-token user, bound by the RoleBinding the operator renders to the
  chart's sandbox-member ClusterRole) uses kubectl in its own sandbox and is refused in the other, and
  never reads Secrets, even its own sandbox's credential;
- the enforce-mode ValidatingAdmissionPolicy refuses a Deployment with a `latest` image created with
  kubectl in a namespace it reaches, and lets the same Deployment into kube-system;
- with one verb removed from the operator's namespaced ClusterRole (the one its RoleBindings in each managed
  namespace grant), the operator reports Ready=False reason Forbidden on the capability it can no longer
  reconcile (run last: it changes the role).

Runs against the embedded server only (it starts the server with its static token file)."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.chart import CHART, NAMESPACE, REPO, find, render

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MEMBERS = {"jane@acmepay.example": "jane-token-7f3c1", "hank@globex.example": "hank-token-9a2e4"}
EXTRA = REPO / "tests" / "chart" / "manifests" / "rbac-enforced" / "sandboxes.yaml"
HTTPROUTE_CRD = REPO / "tests" / "e2e" / "manifests" / "gateway-api-httproute-crd.yaml"


def _token_kubeconfig(admin_kubeconfig: Path, token: str, out: Path) -> Path:
    doc = yaml.safe_load(admin_kubeconfig.read_text())
    doc["users"][0]["user"] = {"token": token}
    out.write_text(yaml.safe_dump(doc))
    out.chmod(0o600)
    return out


def _sa_token(handle: Any, namespace: str, name: str) -> str:
    resp = httpx.post(f"{handle.url}/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                      headers={"Authorization": f"Bearer {handle.token}"},
                      json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                            "spec": {"expirationSeconds": 7200}}, timeout=30,
                      verify=ssl.create_default_context(cafile=str(handle.ca_file)))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["status"]["token"])


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if os.environ.get("FINPLANE_TEST_KUBE") == "real":
        pytest.skip("starts the embedded API server with its own static token file")
    from finplane_emulator.testing import start_apiserver
    from tests.support import Cluster, free_port, wait_for

    tmp = tmp_path_factory.mktemp("rbac-enforced")
    tokens = tmp / "tokens.csv"
    tokens.write_text("".join(f"{t},{u},uid-{i}\n" for i, (u, t) in enumerate(MEMBERS.items())))
    handle = start_apiserver(tmp / "apiserver", secure=True, token_auth_file=tokens)
    cluster = Cluster(kubeconfig=Path(handle.kubeconfig), url=handle.url, handle=handle)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        cluster.kubectl("apply", "--server-side", "-f", str(CHART / "crds"))
        cluster.kubectl("apply", "--server-side", "-f", str(HTTPROUTE_CRD))
        objects = render({})
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        # the platform Gateway's namespace (Envoy Gateway's install makes it), where the chart grants partner mTLS
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "envoy-gateway-system"}})
        for obj in sorted(objects, key=lambda o: o["kind"] != "CustomResourceDefinition"):
            if not obj["metadata"]["annotations"].get("helm.sh/hook"):
                cluster.apply(obj)
        examples = sorted((REPO / "examples").glob("*.yaml"))
        for path in [*examples, EXTRA]:
            cluster.kubectl("apply", "--server-side", "--field-manager=examples", "-f", str(path))
        operator_sa = find(objects, "Deployment", "finplane-operator")[0]["spec"]["template"]["spec"][
            "serviceAccountName"]
        api_sa = find(objects, "Deployment", "finplane-api")[0]["spec"]["template"]["spec"]["serviceAccountName"]
        operator_kubeconfig = _token_kubeconfig(cluster.kubeconfig, _sa_token(handle, NAMESPACE, operator_sa),
                                                tmp / "operator.kubeconfig")
        api_kubeconfig = _token_kubeconfig(cluster.kubeconfig, _sa_token(handle, NAMESPACE, api_sa),
                                           tmp / "api.kubeconfig")
        settings = dict(find(objects, "ConfigMap", "finplane-operator")[0]["data"])
        # the evidence signing key from the release's Secret, as the chart's pods get it (its Role is under test)
        evidence_key = {e["name"]: e["value"] for e in find(objects, "Deployment", "finplane-operator")[0]["spec"][
            "template"]["spec"]["containers"][0]["env"] if e["name"] == "FINPLANE_EVIDENCE_KEY_SECRET"}
        assert evidence_key, "the chart gives the operator no evidence key Secret"
        settings["FINPLANE_EVIDENCE_DIR"] = str(tmp / "evidence")
        log = tmp / "operator.log"
        with open(log, "wb") as out:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "finplane", "operator", "--peering=finplane",
                 f"--liveness-port={free_port()}", f"--metrics-port={free_port()}"],
                env={**os.environ, "KUBECONFIG": str(operator_kubeconfig), **settings, "PYTHONUNBUFFERED": "1",
                     "FINPLANE_POD_IP": "10.0.0.7", "FINPLANE_POD_NAMESPACE": NAMESPACE, **evidence_key,
                     "FINPLANE_BACKOFF_SECONDS": "0.5", "FINPLANE_BACKOFF_MAX_SECONDS": "2",
                     "KUBECACHEDIR": str(tmp / ".kube-cache")},
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO))
        api_log = tmp / "api.log"
        with open(api_log, "wb") as api_err:
            api = subprocess.Popen([sys.executable, "-m", "finplane", "api", "--port", "0"],
                                   env={**os.environ, "KUBECONFIG": str(api_kubeconfig), "FINPLANE_API_DEV_MODE": "true",
                                        "FINPLANE_API_DEV_KEY_DIR": str(tmp / "keys"),
                                        "FINPLANE_EVIDENCE_DIR": str(tmp / "api-evidence"),
                                        "FINPLANE_API_AUDIT_LOG": str(tmp / "audit.jsonl"), **evidence_key},
                                   stdout=subprocess.PIPE, stderr=api_err, cwd=REPO)
        processes.append(api)  # type: ignore[arg-type]
        line = api.stdout.readline().decode() if api.stdout else ""
        assert "listening on" in line, api_log.read_text()[-3000:]
        api_url = line.rsplit(" ", 1)[-1].strip()

        crs = [doc for path in [*examples, EXTRA] for doc in yaml.safe_load_all(path.read_text())
               if doc and doc.get("apiVersion", "").startswith("finplane.io/")]

        def statuses() -> list[tuple[str, dict[str, Any]]]:
            assert processes[0].poll() is None, log.read_text()[-3000:]
            out = []
            for cr in crs:
                obj = cluster.get(cr["kind"], cr["metadata"]["name"], cr["metadata"].get("namespace")) or {}
                out.append((f"{cr['kind']}/{cr['metadata']['name']}", obj.get("status") or {}))
            return out

        wait_for(lambda: sum(1 for _, s in statuses() if s.get("conditions")) >= 3, timeout=120,
                 what="status conditions on the examples")
        wait_for(lambda: cluster.get("validatingadmissionpolicybinding", "finplane-enforced-tags"), timeout=60,
                 what="the enforce-mode policy's admission binding")
        wait_for(lambda: cluster.get("rolebinding", "sandbox-members", "sbx-globex")
                 or [rb for rb in cluster.list("rolebinding", "sbx-globex") if rb["subjects"]],
                 timeout=60, what="the globex members' RoleBinding")
        wait_for(lambda: [rb for rb in cluster.list("rolebinding", "sbx-acmepay") if rb.get("subjects")],
                 timeout=60, what="the acmepay members' RoleBinding")

        def api_ready() -> bool:
            try:
                return httpx.get(f"{api_url}/readyz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(api_ready, timeout=60, what="the platform API ready under its ServiceAccount")
        yield {"cluster": cluster, "handle": handle, "objects": objects, "statuses": statuses, "log": log,
               "api_log": api_log, "api_url": api_url, "tmp": tmp}
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        handle.stop()


def _kubectl_as(enforced: dict[str, Any], user: str, *args: str) -> subprocess.CompletedProcess[str]:
    cluster = enforced["cluster"]
    return subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "--token", MEMBERS[user], *args],
                          capture_output=True, text=True, timeout=60, env=cluster.env)


def _forbidden_conditions(statuses: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{name}: {c.get('message')}" for name, s in statuses for c in s.get("conditions") or []
            if c.get("reason") == "Forbidden"]


def test_the_operator_reconciles_under_its_chart_role_without_a_forbidden_condition(
        enforced: dict[str, Any]) -> None:
    from tests.support import wait_for

    cluster = enforced["cluster"]
    wait_for(lambda: (cluster.get("tenantsandbox", "globex") or {}).get("status", {}).get("phase") == "Active",
             timeout=90, what="the globex sandbox Active")
    assert cluster.get("namespace", "sbx-globex") is not None
    assert _forbidden_conditions(enforced["statuses"]()) == []
    refusals = [line for line in enforced["log"].read_text(errors="replace").splitlines()
                if "403" in line.split(" ", 2)[-1] or "Forbidden" in line]  # not in the timestamp (",403")
    assert refusals == [], "\n".join(refusals[:20])
    secret = cluster.get("secret", "finplane-evidence-key", "finplane-system")
    published = cluster.get("configmap", "finplane-evidence-key-public", "finplane-system")
    assert secret is not None and published is not None
    assert published["data"]["kid"] == secret["metadata"]["annotations"]["finplane.io/evidence-key-id"]
    assert "PRIVATE" not in json.dumps(published)


def test_the_platform_api_reads_and_writes_under_its_chart_role(enforced: dict[str, Any]) -> None:
    from platform_api.auth import devkey
    from platform_api.settings import ApiSettings
    from tests.support import condition, wait_for

    assert httpx.get(f"{enforced['api_url']}/readyz", timeout=5).status_code == 200
    # The chart enforces team ownership: the team comes from the Team's member groups, not the claim alone.
    token = devkey.mint(role="team", team="payments", subject="pat", groups=["payments-developers"],
                        settings=ApiSettings(dev_mode=True, dev_key_dir=enforced["tmp"] / "keys"))
    resp = httpx.post(f"{enforced['api_url']}/api/v1/teams/payments/capabilities",
                      headers={"Authorization": f"Bearer {token}"}, timeout=30, json={"name": "via-api", "spec": {
                          "owner": {"team": "payments", "contact": "payments@bank.example"}, "domain": "payments",
                          "image": "registry.finplane.local/payments/via-api:1.0.0"}})
    assert resp.status_code == 201, resp.text
    cluster = enforced["cluster"]
    ready = wait_for(lambda: condition(cluster.get("businesscapability", "via-api", "payments"), "Ready"),
                     timeout=90, what="the operator's status on the capability the API created")
    assert ready.get("reason") != "Forbidden", ready
    problems = [line for line in enforced["api_log"].read_text(errors="replace").splitlines()
                if "403" in line or "Forbidden" in line]
    assert problems == [], "\n".join(problems[:20])


def test_a_sandbox_member_works_in_its_sandbox_and_is_refused_in_another(enforced: dict[str, Any]) -> None:
    own = _kubectl_as(enforced, "jane@acmepay.example", "get", "pods", "-n", "sbx-acmepay")
    assert own.returncode == 0, own.stderr
    other = _kubectl_as(enforced, "jane@acmepay.example", "get", "pods", "-n", "sbx-globex")
    assert other.returncode != 0
    assert ('pods is forbidden: User "jane@acmepay.example" cannot list resource "pods" in API group "" '
            'in the namespace "sbx-globex"') in other.stderr
    create = _kubectl_as(enforced, "jane@acmepay.example", "create", "configmap", "probe", "-n", "sbx-globex",
                         "--from-literal=a=b")
    assert create.returncode != 0 and "forbidden" in create.stderr
    # nor the credential Secret of its own sandbox, nor the sandbox's guard rails
    secrets = _kubectl_as(enforced, "jane@acmepay.example", "get", "secrets", "-n", "sbx-acmepay")
    assert secrets.returncode != 0 and 'cannot list resource "secrets"' in secrets.stderr
    netpol = _kubectl_as(enforced, "jane@acmepay.example", "delete", "networkpolicies", "--all", "-n", "sbx-acmepay")
    assert netpol.returncode != 0 and "forbidden" in netpol.stderr
    can = _kubectl_as(enforced, "hank@globex.example", "auth", "can-i", "create", "deployments", "-n", "sbx-globex")
    assert can.stdout.strip() == "yes", can.stderr
    cannot = _kubectl_as(enforced, "hank@globex.example", "auth", "can-i", "create", "deployments",
                         "-n", "sbx-acmepay")
    assert cannot.stdout.strip() == "no"


def test_enforce_mode_refuses_a_latest_deployment_but_not_in_kube_system(enforced: dict[str, Any]) -> None:
    cluster = enforced["cluster"]
    refused = cluster.kubectl("create", "deployment", "tagged", "--image=registry.finplane.local/app:latest",
                              "-n", "payments", check=False)
    assert refused.returncode != 0
    assert "ValidatingAdmissionPolicy 'finplane-enforced-tags'" in refused.stderr
    assert "images must not use the latest tag" in refused.stderr
    assert cluster.get("deployment", "tagged", "payments") is None
    allowed = cluster.kubectl("create", "deployment", "tagged", "--image=registry.finplane.local/app:latest",
                              "-n", "kube-system", check=False)
    assert allowed.returncode == 0, allowed.stderr
    pinned = cluster.kubectl("create", "deployment", "pinned", "--image=registry.finplane.local/app:1.2.3",
                             "-n", "payments", check=False)
    assert pinned.returncode == 0, pinned.stderr


def test_removing_one_verb_from_the_operator_namespaced_role_makes_it_report_forbidden(
        enforced: dict[str, Any]) -> None:
    """Runs last in this module: it leaves the operator's namespaced role without `create` on Deployments."""
    from tests.support import condition, wait_for

    cluster = enforced["cluster"]
    role = cluster.get("clusterrole", "finplane-operator-namespaced")
    assert role is not None
    rules = []
    for rule in role["rules"]:
        if rule.get("apiGroups") == ["apps"] and "deployments" in rule.get("resources", []):
            rule = {**rule, "verbs": [v for v in rule["verbs"] if v != "create"]}
        rules.append(rule)
    assert rules != role["rules"], "the chart grants no create on deployments"
    cluster.kubectl("patch", "clusterrole", "finplane-operator-namespaced", "--type=merge",
                    "-p", json.dumps({"rules": rules}))
    cap = {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
           "metadata": {"name": "after-revoke", "namespace": "payments"},
           "spec": {"owner": {"team": "payments", "contact": "payments@bank.example"}, "domain": "payments",
                    "description": "created after create on deployments was revoked",
                    "image": "registry.finplane.local/payments/after:1.0.0", "version": "1.0.0",
                    "replicas": 1, "port": 8080, "healthPath": "/healthz", "dataClassification": "internal"}}
    cluster.apply(cap)

    def forbidden() -> dict[str, Any] | None:
        c = condition(cluster.get("businesscapability", "after-revoke", "payments"), "Ready")
        return c if c and c.get("reason") == "Forbidden" else None

    ready = wait_for(forbidden, timeout=120, what="Ready=False reason Forbidden")
    assert ready["status"] == "False"
    assert 'cannot create resource "deployments" in API group "apps" in the namespace "payments"' in ready["message"]
    assert cluster.get("deployment", "after-revoke", "payments") is None
