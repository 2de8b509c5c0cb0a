"""End-to-end: a partner sandbox's API key at the edge, through its whole life.

Covers, with the real operator against the embedded API server (Gateway API and Envoy Gateway policy CRDs
installed): an open-api channel routes to two capabilities; when the sandbox allowed to call one of them
turns Active, its key is in that route's operator-owned partner-keys Secret (referenced by the route's
SecurityPolicy, never copied into it) and not in the other route's, and its quota is on that route's
BackendTrafficPolicy; rotating the credential replaces the key there; tearing the sandbox down at expiry
removes it; a promoted partner's production key outlives the sandbox's expiry and goes at revocation, and
deleting a promoted sandbox (instead of revoking) leaves neither of its production-key Secrets behind. One
stack for the module; no sleeps (every wait is for a condition).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Cluster, builders, start_operator, wait_for

Obj = dict[str, Any]
MANIFESTS = Path(__file__).resolve().parent / "manifests"
PARTNER = {"name": "acme", "organisation": "Acme Payments Ltd", "contact": "ops@acme.example"}


@pytest.fixture(scope="module")
def stack(module_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster with the HTTPRoute and Envoy Gateway policy CRDs served before the operator starts."""
    cluster = module_cluster
    for manifest in ("gateway-api-httproute-crd.yaml", "envoy-gateway-policy-crds.yaml"):
        cluster.kubectl("apply", "--server-side", "-f", str(MANIFESTS / manifest))
    wait_for(lambda: cluster.kubectl("get", "securitypolicies,backendtrafficpolicies,httproutes", "-A",
                                     check=False).returncode == 0, timeout=30, what="the gateway CRDs to be served")
    proc = start_operator(cluster, tmp_path_factory.mktemp("operator"))
    yield cluster
    proc.stop()


def keys(cluster: Cluster, route: str, namespace: str) -> dict[str, str] | None:
    secret = cluster.get("secret", f"partners-{route}.partner-keys", namespace)
    if secret is None:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def credential(cluster: Cluster) -> str | None:
    secret = cluster.get("secret", "partner-api-credential", "sbx-acme") or {}
    raw = (secret.get("data") or {}).get("api-key")
    return base64.b64decode(raw).decode() if raw else None


def test_a_sandboxs_key_opens_its_routes_only_is_replaced_at_rotation_and_removed_at_teardown(stack: Cluster) -> None:
    cluster = stack
    cluster.apply([builders.namespace("risk"), builders.namespace("core"), builders.namespace("envoy-gateway-system")])
    cluster.apply([builders.capability("kyc", "risk", owner={"team": "risk", "contact": "risk@bank.example"},
                                       domain="onboarding", image="registry.example/risk/kyc:1.0.0"),
                   builders.capability("ledger", "core", owner={"team": "core", "contact": "core@bank.example"},
                                       domain="core", image="registry.example/core/ledger:1.0.0")])
    cluster.apply(builders.channel("partners", [builders.route("kyc", "risk", "kyc", "/kyc"),
                                                builders.route("ledger", "core", "ledger", "/ledger")],
                                   type_="open-api", hostnames=["api.bank.example"]))
    # Before any partner: the routes exist and admit nobody.
    wait_for(lambda: keys(cluster, "kyc", "risk") == {} and keys(cluster, "ledger", "core") == {}, timeout=60,
             what="empty partner-keys Secrets on both routes")

    cluster.apply(builders.sandbox("acme", partner=PARTNER, tier="medium", expiryWarningSeconds=60,
                                   allowedCapabilities=[{"namespace": "risk", "name": "kyc"}]))
    wait_for(lambda: (cluster.get("tenantsandbox", "acme") or {}).get("status", {}).get("phase") == "Active",
             timeout=60, what="sandbox acme Active")
    first = wait_for(lambda: credential(cluster), timeout=30, what="the credential")
    wait_for(lambda: keys(cluster, "kyc", "risk") == {"acme": first}, timeout=60, what="acme's key on the kyc route")
    assert keys(cluster, "ledger", "core") == {}  # a capability it may not call
    policy = cluster.get("securitypolicy", "partners-kyc", "risk") or {}
    assert policy["spec"]["apiKeyAuth"]["credentialRefs"] == [{"group": "", "kind": "Secret",
                                                               "name": "partners-kyc.partner-keys"}]
    assert first not in json.dumps(policy) and first not in json.dumps(cluster.get("channel", "partners"))
    limits = (cluster.get("backendtrafficpolicy", "partners-kyc", "risk") or {})["spec"]["rateLimit"]
    assert [r["limit"] for r in limits["global"]["rules"]] == [{"requests": 100000, "unit": "Day"}]  # medium

    cluster.kubectl("patch", "tenantsandbox", "acme", "--type=merge", "-p", '{"spec": {"credentialRotation": 1}}')
    second = wait_for(lambda: credential(cluster) if credential(cluster) not in (None, first) else None,
                      timeout=60, what="the rotated credential")
    wait_for(lambda: keys(cluster, "kyc", "risk") == {"acme": second}, timeout=60, what="the rotated key on kyc")

    cluster.kubectl("patch", "tenantsandbox", "acme", "--type=merge", "-p", '{"spec": {"ttlSeconds": 1}}')
    wait_for(lambda: (cluster.get("tenantsandbox", "acme") or {}).get("status", {}).get("phase") == "Expired",
             timeout=60, what="sandbox acme torn down")
    wait_for(lambda: keys(cluster, "kyc", "risk") == {}, timeout=60, what="acme's key gone from the kyc route")


def test_a_promoted_partners_production_key_outlives_the_sandbox_and_goes_at_revocation(stack: Cluster) -> None:
    """A production channel admits the promotion's production key only; the sandbox's expiry keeps it, the
    revocation removes it (and its Secret) in the next channel pass."""
    cluster = stack
    cluster.apply([builders.namespace("fraud"), builders.namespace("finplane-system"),
                   builders.namespace("envoy-gateway-system")])
    cluster.apply(builders.capability("aml", "fraud", owner={"team": "fraud", "contact": "fraud@bank.example"},
                                      domain="compliance", image="registry.example/fraud/aml:1.0.0"))
    cluster.apply(builders.channel("prod", [builders.route("aml", "fraud", "aml", "/aml")], type_="open-api",
                                   hostnames=["api.bank.example"], labels={"finplane.io/environment": "production"}))

    def prod_keys() -> dict[str, str] | None:
        secret = cluster.get("secret", "prod-aml.partner-keys", "fraud")
        return None if secret is None else {k: base64.b64decode(v).decode()
                                            for k, v in (secret.get("data") or {}).items()}

    def production_key() -> str | None:
        secret = cluster.get("secret", "finplane-production-key.globex", "finplane-system") or {}
        raw = (secret.get("data") or {}).get("api-key")
        return base64.b64decode(raw).decode() if raw else None

    promotion = {"finplane.io/promotion": "approved", "finplane.io/promotion-requested-by": "globex-bot",
                 "finplane.io/promotion-decided-by": "ada",
                 "finplane.io/promotion-request": json.dumps({"capabilities": ["fraud/aml"], "tier": "large"})}
    cluster.apply(builders.sandbox("globex", tier="small", annotations=promotion,
                                   allowedCapabilities=[{"namespace": "fraud", "name": "aml"}]))
    key = wait_for(production_key, timeout=60, what="the production key")
    wait_for(lambda: prod_keys() == {"globex": key}, timeout=60, what="globex's production key on the prod route")
    sandbox_key = (cluster.get("secret", "partner-api-credential", "sbx-globex") or {}).get("data", {}).get("api-key")
    assert sandbox_key is None or base64.b64decode(sandbox_key).decode() != key

    cluster.kubectl("patch", "tenantsandbox", "globex", "--type=merge", "-p", '{"spec": {"ttlSeconds": 1}}')
    wait_for(lambda: (cluster.get("tenantsandbox", "globex") or {}).get("status", {}).get("phase") == "Expired",
             timeout=60, what="globex expired")
    assert prod_keys() == {"globex": key}  # the expiry woke the channel; production access stays

    cluster.kubectl("annotate", "--overwrite", "tenantsandbox", "globex", "finplane.io/promotion=revoked")
    wait_for(lambda: prod_keys() == {}, timeout=60, what="the production key gone after revocation")
    assert production_key() is None


def test_deleting_a_promoted_sandbox_leaves_no_production_key_behind(stack: Cluster) -> None:
    """Deleting the TenantSandbox instead of revoking: the garbage collector removes both copies of the production
    key (owned by the sandbox), and the production route's keys Secret drops it."""
    cluster = stack
    cluster.apply([builders.namespace("treasury"), builders.namespace("finplane-system"),
                   builders.namespace("envoy-gateway-system")])
    cluster.apply(builders.capability("fx", "treasury", owner={"team": "treasury", "contact": "t@bank.example"},
                                      domain="markets", image="registry.example/treasury/fx:1.0.0"))
    cluster.apply(builders.channel("prod-fx", [builders.route("fx", "treasury", "fx", "/fx")], type_="open-api",
                                   hostnames=["fx.api.bank.example"], labels={"finplane.io/environment": "production"}))
    promotion = {"finplane.io/promotion": "approved", "finplane.io/promotion-requested-by": "initech-bot",
                 "finplane.io/promotion-decided-by": "ada",
                 "finplane.io/promotion-request": json.dumps({"capabilities": ["treasury/fx"], "tier": "small"})}
    cluster.apply(builders.sandbox("initech", tier="small", annotations=promotion,
                                   allowedCapabilities=[{"namespace": "treasury", "name": "fx"}]))

    def copies() -> tuple[Obj | None, Obj | None]:
        return (cluster.get("secret", "finplane-production-key.initech", "finplane-system"),
                cluster.get("secret", "partner-production-credential", "sbx-initech"))

    wait_for(lambda: all(c is not None for c in copies()), timeout=60,
             what="the production key and its copy in the sandbox's namespace")
    for secret in copies():
        assert secret is not None
        assert [r["kind"] for r in secret["metadata"]["ownerReferences"]] == ["TenantSandbox"]
    wait_for(lambda: "initech" in ((cluster.get("secret", "prod-fx-fx.partner-keys", "treasury") or {}).get("data")
                                   or {}), timeout=60, what="initech's production key on the prod-fx route")

    cluster.kubectl("delete", "tenantsandbox", "initech", "--wait=false")
    wait_for(lambda: copies() == (None, None), timeout=60, what="both production-key Secrets gone with the sandbox")
    wait_for(lambda: "initech" not in ((cluster.get("secret", "prod-fx-fx.partner-keys", "treasury") or {})
                                       .get("data") or {}), timeout=60, what="initech's key gone from the route")
