"""What the API remembers between requests never outlives what it was true for, and is never another caller's.

Covers the two request caches of issue 19: verified tokens (platform_api.auth.tokens, by their exact
text until exp) and the catalog's summaries (services/catalog.Summaries, per object and resourceVersion).
Written as the callers they must keep out: a token that has expired since it was first accepted, one
signed by a key the IdP has withdrawn, a forgery that differs from an accepted token only in its
signature, a team member removed from the Team, a partner and another team after a team's requests,
and a reader who must see a capability's change and deletion at once.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from platform_api.app import create_app
from platform_api.auth import tokens
from platform_api.cache import MemoryCache
from platform_api.schemas import CatalogEntry, Page
from platform_api.services.catalog import Summaries, entry
from platform_api.settings import ApiSettings

Obj = dict[str, Any]
IDP = "https://idp.bank.example"
CATALOG = "/api/v1/catalog"
PAT = {"role": "team", "team": "payments", "subject": "pat"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move the clock of token checks (the cache's and PyJWT's) ``seconds`` ahead."""
    def _move(seconds: float) -> None:
        real_time, real_datetime = time.time, datetime

        class _Later(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return real_datetime.now(tz) + (real_datetime.fromtimestamp(seconds) -
                                                real_datetime.fromtimestamp(0))

        monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: real_time() + seconds))
        monkeypatch.setattr(jwt.api_jwt, "datetime", _Later)
    return _move


def test_a_token_accepted_before_is_refused_once_it_has_expired(client, mint, later) -> None:  # type: ignore[no-untyped-def]
    token = mint("admin", ttl=60)
    assert client.get(CATALOG, headers=_bearer(token)).status_code == 200
    assert client.get(CATALOG, headers=_bearer(token)).status_code == 200  # remembered
    later(60 + 31)  # past exp and the 30 s leeway
    resp = client.get(CATALOG, headers=_bearer(token))
    assert resp.status_code == 401 and resp.json()["reason"] == "TokenExpired"


def test_a_forgery_that_differs_from_an_accepted_token_only_in_its_signature_is_refused(client, mint) -> None:  # type: ignore[no-untyped-def]
    token = mint("admin")
    assert client.get(CATALOG, headers=_bearer(token)).status_code == 200
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    resp = client.get(CATALOG, headers=_bearer(forged))
    assert resp.status_code == 401 and resp.json()["reason"] in ("BadSignature", "InvalidToken")


@pytest.fixture
def idp(tmp_path: Path, settings: ApiSettings) -> tuple[ApiSettings, rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "use": "sig"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    cfg = settings.model_copy(update={"jwks": str(path), "issuer": IDP, "algorithms": ["RS256"]})
    return cfg, key, path


def test_a_token_accepted_before_is_refused_once_its_key_is_withdrawn_from_the_jwks_file(idp) -> None:  # type: ignore[no-untyped-def]
    cfg, key, path = idp
    now = int(time.time())
    token = jwt.encode({"iss": IDP, "aud": cfg.audience, "sub": "ada", "role": "admin", "iat": now,
                        "exp": now + 600}, key, algorithm="RS256", headers={"kid": "idp-1"})
    with TestClient(create_app(cfg, cache=MemoryCache(), writer=object()), raise_server_exceptions=False) as c:
        assert c.get(CATALOG, headers=_bearer(token)).status_code == 200
        assert c.get(CATALOG, headers=_bearer(token)).status_code == 200
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(other.public_key()))
        jwk.update({"kid": "idp-2", "use": "sig"})
        path.write_text(json.dumps({"keys": [jwk]}))  # the IdP rotated idp-1 out
        stat = path.stat()
        os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a new mtime even on a coarse clock
        resp = c.get(CATALOG, headers=_bearer(token))
        assert resp.status_code == 401 and resp.json()["reason"] == "UnknownKey"


def _team(members: list[Obj]) -> Obj:
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "Team",
            "metadata": {"name": "payments", "resourceVersion": "1"},
            "spec": {"displayName": "Payments", "contact": {"email": "p@bank.example"},
                     "owners": [{"kind": "User", "name": "olga"}], "members": members,
                     "namespaces": ["payments"]},
            "status": {"namespaces": [{"name": "payments", "state": "Adopted", "capabilities": 0}]}}


def test_a_member_removed_from_the_team_loses_it_at_once_with_the_same_token(client, cache, as_) -> None:  # type: ignore[no-untyped-def]
    cache.observe(_team([{"kind": "User", "name": "pat"}]))
    headers = as_(**PAT)
    url = "/api/v1/teams/payments/capabilities"
    assert client.get(url, headers=headers).status_code == 200
    assert client.get(url, headers=headers).status_code == 200
    cache.observe(_team([]))  # the Team's owners removed pat (a watch event)
    resp = client.get(url, headers=headers)
    assert resp.status_code == 404 and "items" not in resp.json()


def test_after_a_teams_requests_a_partner_still_gets_no_catalog_and_another_team_not_its_capabilities(  # type: ignore[no-untyped-def]
        client, writer, as_, make_capability) -> None:
    writer.seed(make_capability("pay", "payments"))
    team = as_(**PAT)
    assert [i["name"] for i in client.get(CATALOG, headers=team).json()["items"]] == ["pay"]
    assert client.get("/api/v1/teams/payments/capabilities", headers=team).status_code == 200
    partner = as_("partner", partner="acme")
    assert client.get(CATALOG, headers=partner).status_code == 403
    other = as_("team", team="cards", subject="carl")
    resp = client.get("/api/v1/teams/payments/capabilities", headers=other)
    assert resp.status_code == 404 and "items" not in resp.json()  # another team's path does not exist for it
    assert client.get("/api/v1/teams/payments/capabilities", headers=team).status_code == 200


def test_the_catalog_shows_a_capabilitys_change_and_deletion_at_once(client, cache, writer, as_,  # type: ignore[no-untyped-def]
                                                                      make_capability) -> None:
    seeded = writer.seed(make_capability("pay", "payments"))
    headers = as_("auditor")
    first = client.get(CATALOG, headers=headers).json()["items"]
    assert first[0]["description"] == "pay of payments" and first[0]["ready"] is True
    assert client.get(CATALOG, headers=headers).json()["items"] == first  # served from the remembered summary
    changed = copy.deepcopy(seeded)
    changed["spec"]["description"] = "pay, now with refunds"
    changed["status"]["conditions"][0]["status"] = "False"
    changed["metadata"]["resourceVersion"] = str(int(seeded["metadata"]["resourceVersion"]) + 1)
    cache.observe(changed)  # the watch's MODIFIED event
    now = client.get(CATALOG, headers=headers).json()["items"]
    assert now[0]["description"] == "pay, now with refunds" and now[0]["ready"] is False
    assert client.get(f"{CATALOG}?ready=true", headers=headers).json()["items"] == []
    cache.forget(changed)  # DELETED
    assert client.get(CATALOG, headers=headers).json()["items"] == []


def test_a_relisted_object_at_the_same_version_is_summarised_from_what_the_cache_holds_now(make_capability) -> None:
    summaries = Summaries()
    obj = make_capability("pay", "payments")
    obj["metadata"]["resourceVersion"] = "7"
    assert summaries.summary(obj)["description"] == "pay of payments"
    other = copy.deepcopy(obj)
    other["spec"]["description"] = "what the cluster says"
    assert summaries.summary(other)["description"] == "what the cluster says"  # another object: never the old one


@pytest.fixture
def varied(make_capability) -> Iterator[list[Obj]]:  # type: ignore[no-untyped-def]
    objs = [make_capability("pay", "payments", channels=["mobile", "api"]),
            make_capability("ledger", "core", ready=None, classification="restricted"),
            make_capability("zahlung", "zürich", domain="zahlungsverkehr")]
    objs[2]["spec"]["description"] = "Zahlungen für «Kunden» \u2014 \"quoted\" \\ backslash"
    objs[1]["spec"].pop("image")  # no version at all
    for i, o in enumerate(objs):
        o["metadata"]["resourceVersion"] = str(i + 1)
    yield objs


@pytest.mark.parametrize("cursor", [None, "abc"], ids=["last-page", "more-pages"])
def test_a_page_of_remembered_summaries_is_byte_for_byte_what_the_response_model_encodes(varied, cursor) -> None:  # type: ignore[no-untyped-def]
    summaries = Summaries()
    expected = Page[CatalogEntry].model_validate({"items": [entry(o) for o in varied], "nextCursor": cursor})
    want = expected.model_dump_json(exclude_unset=True).encode()
    assert summaries.page_json(varied, cursor) == want
    assert summaries.page_json(varied, cursor) == want  # and again, from what it remembered
