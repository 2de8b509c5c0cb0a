"""Authorisation matrix: for each role, which routes answer (2xx), which are forbidden (403), and
which hide other owners' objects (404, never 403: BOLA attempts across teams and partners)."""

from __future__ import annotations

import pytest

CAP = {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
       "image": "registry.bank.example/pay:1.0"}

ROLES = {
    "team-payments": {"role": "team", "team": "payments", "subject": "pat"},
    "team-cards": {"role": "team", "team": "cards", "subject": "carl"},
    "partner-acme": {"role": "partner", "partner": "acme", "subject": "acme-bot"},
    "partner-globex": {"role": "partner", "partner": "globex", "subject": "globex-bot"},
    "auditor": {"role": "auditor", "subject": "audrey"},
    "admin": {"role": "admin", "subject": "ada"},
}

# (caller, method, path, body, expected status)
MATRIX = [
    ("team-payments", "GET", "/api/v1/catalog", None, 200),
    ("team-cards", "GET", "/api/v1/catalog", None, 200),
    ("auditor", "GET", "/api/v1/catalog", None, 200),
    ("partner-acme", "GET", "/api/v1/catalog", None, 403),
    ("team-cards", "GET", "/api/v1/catalog/payments/pay", None, 200),
    ("team-payments", "GET", "/api/v1/teams/payments/capabilities/pay", None, 200),
    ("team-cards", "GET", "/api/v1/teams/payments/capabilities/pay", None, 404),
    ("team-cards", "GET", "/api/v1/teams/payments/capabilities", None, 404),
    ("team-cards", "PUT", "/api/v1/teams/payments/capabilities/pay", {"spec": CAP}, 404),
    ("team-cards", "DELETE", "/api/v1/teams/payments/capabilities/pay", None, 404),
    ("team-cards", "POST", "/api/v1/teams/payments/capabilities", {"name": "x", "spec": CAP}, 404),
    ("auditor", "GET", "/api/v1/teams/payments/capabilities/pay", None, 200),
    ("auditor", "PUT", "/api/v1/teams/payments/capabilities/pay", {"spec": CAP}, 403),
    ("auditor", "DELETE", "/api/v1/teams/payments/capabilities/pay", None, 403),
    ("partner-acme", "GET", "/api/v1/teams/payments/capabilities/pay", None, 403),
    ("admin", "PUT", "/api/v1/teams/payments/capabilities/pay", {"spec": CAP}, 200),
    ("partner-acme", "GET", "/api/v1/channels", None, 200),
    ("team-payments", "GET", "/api/v1/channels/mobile", None, 200),
    ("team-payments", "POST", "/api/v1/channels", {"name": "web", "spec": {"type": "web"}}, 403),
    ("auditor", "DELETE", "/api/v1/channels/mobile", None, 403),
    ("admin", "DELETE", "/api/v1/channels/mobile", None, 204),
    ("partner-acme", "GET", "/api/v1/sandboxes/acme--sbx", None, 200),
    ("partner-globex", "GET", "/api/v1/sandboxes/acme--sbx", None, 404),
    ("partner-globex", "POST", "/api/v1/sandboxes/acme--sbx/rotation", None, 404),
    ("partner-globex", "POST", "/api/v1/sandboxes/acme--sbx/extension",
     {"expiresAt": "2099-01-01T00:00:00Z", "reason": "more time"}, 404),
    ("team-cards", "GET", "/api/v1/sandboxes/acme--sbx", None, 404),
    ("auditor", "GET", "/api/v1/sandboxes/acme--sbx", None, 200),
    ("partner-acme", "POST", "/api/v1/sandboxes/acme--sbx/approve", None, 403),
    ("auditor", "POST", "/api/v1/sandboxes/acme--sbx/approve", None, 403),
    ("partner-acme", "DELETE", "/api/v1/sandboxes/acme--sbx", None, 403),
    ("partner-acme", "GET", "/api/v1/compliance/policies", None, 403),
    ("auditor", "GET", "/api/v1/compliance/policies", None, 200),
    ("auditor", "GET", "/api/v1/compliance/results", None, 200),
    ("auditor", "POST", "/api/v1/compliance/waivers",
     {"policy": "baseline", "rule": "no-latest-tag", "resources": [{"kind": "BusinessCapability", "name": "pay"}],
      "justification": "vendor ships only latest", "risk": "low", "ticket": "T-1", "expiresAt": "2099-01-01T00:00:00Z"}, 403),
    ("team-payments", "GET", "/api/v1/compliance/evidence/export", None, 403),
]


@pytest.fixture
def world(writer, make_capability, make_sandbox_spec):  # type: ignore[no-untyped-def]
    writer.seed(make_capability("pay", "payments"))
    writer.seed({"apiVersion": "finplane.io/v1alpha1", "kind": "Channel", "metadata": {"name": "mobile"},
                 "spec": {"type": "mobile"}})
    writer.seed({"apiVersion": "finplane.io/v1alpha1", "kind": "TenantSandbox",
                 "metadata": {"name": "acme--sbx", "annotations": {"finplane.io/approval": "pending",
                                                                  "finplane.io/requested-by": "acme-bot"}},
                 "spec": make_sandbox_spec("acme")})
    writer.seed({"apiVersion": "finplane.io/v1alpha1", "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
                 "spec": {"mode": "audit"}})


@pytest.mark.parametrize(("caller", "method", "path", "body", "expected"), MATRIX,
                         ids=[f"{c}-{m}-{p}" for c, m, p, _, _ in MATRIX])
def test_each_role_gets_exactly_the_access_of_the_matrix(world, client, as_, caller, method, path, body, expected):
    resp = client.request(method, path, headers=as_(**ROLES[caller]), json=body)
    assert resp.status_code == expected, resp.text
    if expected >= 400:
        assert resp.headers["content-type"].startswith("application/problem+json")


def test_a_hidden_object_answers_exactly_like_a_missing_one(world, client, as_):
    hidden = client.get("/api/v1/sandboxes/acme--sbx", headers=as_(**ROLES["partner-globex"]))
    missing = client.get("/api/v1/sandboxes/no-such-sbx", headers=as_(**ROLES["partner-globex"]))
    strip = lambda r: {k: v for k, v in r.json().items() if k not in ("detail", "instance")}  # noqa: E731
    assert hidden.status_code == missing.status_code == 404
    assert strip(hidden) == strip(missing)


def test_a_partner_lists_only_its_own_sandboxes(world, client, as_, writer, make_sandbox_spec):
    writer.seed({"apiVersion": "finplane.io/v1alpha1", "kind": "TenantSandbox", "metadata": {"name": "globex-sbx"},
                 "spec": make_sandbox_spec("globex")})
    names = [s["name"] for s in client.get("/api/v1/sandboxes", headers=as_(**ROLES["partner-globex"])).json()["items"]]
    assert names == ["globex-sbx"]
