"""Teams in the platform API, tested as the tenants they separate.

Covers: group membership from a JWKS-signed token's `groups` claim gives the right team (owner or member) and the
admin and auditor groups give those roles; a token's `team` claim is not trusted on its own (a Team that does not
list the caller, or a claim of kube-system, gets nothing); a token of team A can neither create nor read anything
in team B's namespace, nor in kube-system, default or Finplane's namespace; a team writes only into a namespace its
Team holds (404 TeamNotOnboarded otherwise, nothing written); in migrate mode a claim naming no Team still works
as before Teams; `GET /teams` lists only the caller's Teams (all for auditors) and `GET /teams/{team}` shows
namespaces, members, quota used and total, capabilities and readiness, 404 for another team's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from platform_api.app import create_app
from platform_api.cache import MemoryCache
from platform_api.settings import ApiSettings

from .conftest import FakeWriter, capability

Obj = dict[str, Any]
CAPS = "/api/v1/teams/{team}/capabilities"
SPEC = {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
        "image": "registry.bank.example/payments/api:1.0"}


def team(name: str, namespaces: list[str], *, owners: list[Obj], members: list[Obj] = (),  # type: ignore[assignment]
         held: bool = True) -> Obj:
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "Team",
            "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"displayName": name.title(), "contact": {"email": f"{name}@bank.example"},
                     "owners": owners, "members": list(members), "namespaces": namespaces,
                     "quota": {"cpu": "4", "capabilities": 10}},
            "status": {"namespaces": [{"name": n, "state": "Adopted" if held else "Refused", "capabilities": 0}
                                      for n in namespaces],
                       "usage": {"cpu": "200m", "memory": "256Mi", "pods": 2, "capabilities": 1},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Provisioned", "message": "",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


@pytest.fixture
def idp(tmp_path: Path, settings: ApiSettings) -> tuple[ApiSettings, Callable[..., str]]:
    """An external identity provider (RS256, JWKS file) and the API configured with admin and auditor groups."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "use": "sig", "alg": "RS256"})
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    cfg = settings.model_copy(update={"jwks": str(tmp_path / "jwks.json"), "issuer": "https://idp.bank.example",
                                      "admin_groups": ["platform-admins"], "auditor_groups": ["auditors"],
                                      "team_ownership": "enforce"})

    def token(**claims: Any) -> str:
        now = int(time.time())
        body = {"iss": "https://idp.bank.example", "aud": cfg.audience, "sub": "alice", "iat": now, "exp": now + 300,
                **claims}
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": "idp-1"})
    return cfg, token


@pytest.fixture
def estate(cache: MemoryCache, writer: FakeWriter) -> MemoryCache:
    writer.seed(team("payments", ["payments"], owners=[{"kind": "Group", "name": "payments-leads"}],
                     members=[{"kind": "Group", "name": "payments-devs"}, {"kind": "User", "name": "bob"}]))
    writer.seed(team("kyc", ["kyc"], owners=[{"kind": "Group", "name": "kyc-devs"}]))
    writer.seed(capability("payments-api", "payments"))
    writer.seed(capability("kyc-check", "kyc"))
    return cache


@pytest.fixture
def api(idp: tuple[ApiSettings, Callable[..., str]], estate: MemoryCache, writer: FakeWriter) -> Iterator[TestClient]:
    with TestClient(create_app(idp[0], cache=estate, writer=writer), raise_server_exceptions=False) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_group_membership_from_a_jwks_signed_token_gives_the_right_team(api: TestClient, idp: Any) -> None:
    _, token = idp
    mine = api.get(CAPS.format(team="payments"), headers=bearer(token(groups=["payments-devs"])))
    assert mine.status_code == 200 and [c["name"] for c in mine.json()["items"]] == ["payments-api"]
    listing = api.get("/api/v1/teams", headers=bearer(token(groups=["payments-devs"]))).json()["items"]
    assert [(t["name"], t["yourRole"]) for t in listing] == [("payments", "member")]
    lead = api.get("/api/v1/teams/payments", headers=bearer(token(groups=["payments-leads"]))).json()
    assert lead["yourRole"] == "owner"
    by_user = api.get("/api/v1/teams", headers=bearer(token(sub="bob", role="team", team="payments"))).json()
    assert [t["name"] for t in by_user["items"]] == ["payments"]  # a User member, its claim confirmed by the Team
    mallory = api.get(CAPS.format(team="payments"), headers=bearer(token(sub="mallory", role="team", team="payments")))
    assert mallory.status_code == 404  # the same claim from someone the Team does not list


def test_admin_and_auditor_roles_come_from_the_configured_groups(api: TestClient, idp: Any) -> None:
    _, token = idp
    audit = api.get("/api/v1/teams", headers=bearer(token(groups=["auditors"])))
    assert [t["name"] for t in audit.json()["items"]] == ["kyc", "payments"]
    refused = api.post(CAPS.format(team="payments"), json={"name": "x", "spec": SPEC},
                       headers=bearer(token(groups=["auditors"])))
    assert refused.status_code == 403
    assert api.get(CAPS.format(team="kyc"), headers=bearer(token(groups=["platform-admins"]))).status_code == 200


def test_a_team_claim_is_not_trusted_on_its_own(api: TestClient, idp: Any, writer: FakeWriter) -> None:
    _, token = idp
    spoof = bearer(token(role="team", team="kyc", groups=["payments-devs"]))
    assert api.get(CAPS.format(team="kyc"), headers=spoof).status_code == 404
    assert api.post(CAPS.format(team="kyc"), json={"name": "evil", "spec": {**SPEC, "owner": {
        "team": "kyc", "contact": "x@evil.example"}}}, headers=spoof).status_code == 404
    assert api.get("/api/v1/teams/kyc", headers=spoof).status_code == 404
    assert [t["name"] for t in api.get("/api/v1/teams", headers=spoof).json()["items"]] == ["payments"]
    assert writer.writes == []


@pytest.mark.parametrize("target", ["kyc", "kube-system", "default", "finplane-system"])
def test_team_a_can_neither_create_nor_read_in_another_teams_or_the_platforms_namespaces(
        api: TestClient, idp: Any, writer: FakeWriter, target: str) -> None:
    _, token = idp
    for headers in (bearer(token(groups=["payments-devs"])), bearer(token(role="team", team=target)),
                    bearer(token(role="team", team=target, groups=["payments-devs"]))):
        created = api.post(CAPS.format(team=target), json={"name": "evil", "spec": {**SPEC, "owner": {
            "team": target, "contact": "x@evil.example"}}}, headers=headers)
        assert created.status_code == 404, created.text
        assert api.get(CAPS.format(team=target), headers=headers).status_code == 404
        assert api.get(CAPS.format(team=target) + "/kyc-check", headers=headers).status_code == 404
    assert writer.writes == []


def test_a_team_writes_only_into_a_namespace_its_team_holds(api: TestClient, idp: Any, writer: FakeWriter) -> None:
    _, token = idp
    writer.seed(team("lending", ["lending"], owners=[{"kind": "Group", "name": "lending-devs"}], held=False))
    resp = api.post(CAPS.format(team="lending"), json={"name": "loans", "spec": {**SPEC, "owner": {
        "team": "lending", "contact": "l@bank.example"}}}, headers=bearer(token(groups=["lending-devs"])))
    assert resp.status_code == 404 and resp.json()["reason"] == "TeamNotOnboarded"
    assert writer.writes == []
    ok = api.post(CAPS.format(team="payments"), json={"name": "payouts", "spec": SPEC},
                  headers=bearer(token(groups=["payments-devs"])))
    assert ok.status_code == 201 and ok.json()["namespace"] == "payments"


def test_in_enforce_mode_a_claim_naming_no_team_gets_nothing(api: TestClient, idp: Any, writer: FakeWriter) -> None:
    _, token = idp
    resp = api.post(CAPS.format(team="legacy"), json={"name": "x", "spec": {**SPEC, "owner": {
        "team": "legacy", "contact": "l@bank.example"}}}, headers=bearer(token(role="team", team="legacy")))
    assert resp.status_code == 404 and writer.writes == []


def test_in_migrate_mode_a_team_without_a_team_object_keeps_working_but_never_in_kube_system(
        client: TestClient, as_: Callable[..., dict[str, str]], writer: FakeWriter) -> None:
    legacy = client.post(CAPS.format(team="legacy"), json={"name": "x", "spec": {**SPEC, "owner": {
        "team": "legacy", "contact": "l@bank.example"}}}, headers=as_("team", team="legacy"))
    assert legacy.status_code == 201
    evil = client.post(CAPS.format(team="kube-system"), json={"name": "x", "spec": {**SPEC, "owner": {
        "team": "kube-system", "contact": "l@bank.example"}}}, headers=as_("team", team="kube-system"))
    assert evil.status_code == 404
    assert [w[1]["metadata"]["namespace"] for w in writer.writes] == ["legacy"]


def test_team_detail_shows_namespaces_members_quota_capabilities_and_readiness(api: TestClient, idp: Any) -> None:
    _, token = idp
    body = api.get("/api/v1/teams/payments", headers=bearer(token(groups=["payments-devs"]))).json()
    assert body["namespaces"] == ["payments"] and body["ready"] is True
    assert {m["name"] for m in body["members"]} == {"payments-devs", "bob"}
    assert body["owners"] == [{"kind": "Group", "name": "payments-leads"}]
    assert body["quota"] == {"total": {"cpu": "4", "capabilities": 10},
                             "used": {"cpu": "200m", "memory": "256Mi", "pods": 2, "capabilities": 1}}
    assert [(c["name"], c["ready"]) for c in body["capabilities"]] == [("payments-api", True)]
    other = api.get("/api/v1/teams/kyc", headers=bearer(token(groups=["payments-devs"])))
    assert other.status_code == 404
