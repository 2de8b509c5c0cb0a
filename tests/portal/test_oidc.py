"""OpenID Connect sign-in (authorization code with PKCE) against a fake identity provider.

Covers: /portal/oidc/start sends the browser to the IdP with an S256 challenge and a state; the callback
exchanges the code with the matching verifier and signs in with the token the API's own verifier accepts;
a callback whose state was not started in this browser is refused before any exchange; a code the IdP
refuses (e.g. a verifier that does not match its challenge) is no session; a token from an issuer the API
does not trust is no session; an ID token whose nonce is not this sign-in's (replayed from another
sign-in, or none at all) is no session; without the settings the flow does not exist.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from platform_api.app import create_app
from platform_api.cache import MemoryCache
from platform_api.portal import oidc
from platform_api.settings import ApiSettings
from tests.portal.conftest import FakeWriter

ISSUER = "https://idp.bank.example"


class FakeIdp:
    """Issues one code per authorization request and redeems it only with the PKCE verifier it was bound to."""

    def __init__(self, key: rsa.RSAPrivateKey, *, issuer: str = ISSUER) -> None:
        self.key, self.issuer = key, issuer
        self.codes: dict[str, str] = {}
        self.nonces: dict[str, str] = {}  # code -> the nonce of the authorization request it answers
        self.exchanges = 0

    def authorize(self, location: str) -> tuple[str, str]:
        query = parse_qs(urlparse(location).query)
        assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
        code = f"code-{len(self.codes)}"
        self.codes[code] = query["code_challenge"][0]
        self.nonces[code] = query["nonce"][0]
        return code, query["state"][0]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.exchanges += 1
        form = parse_qs(request.content.decode())
        challenge, nonce = self.codes.pop(form["code"][0], None), self.nonces.pop(form["code"][0], None)
        if challenge is None or oidc.challenge(form["code_verifier"][0]) != challenge:
            return httpx.Response(400, json={"error": "invalid_grant"})
        now = int(time.time())
        token = jwt.encode({"iss": self.issuer, "aud": "finplane-api", "sub": "ada@bank.example", "iat": now,
                            "exp": now + 600, "role": "auditor"}, self.key, algorithm="RS256", headers={"kid": "k1"})
        claims = {"iss": self.issuer, "aud": "finplane-portal", "sub": "ada@bank.example", "iat": now,
                  "exp": now + 600, **({"nonce": nonce} if nonce is not None else {})}
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        return httpx.Response(200, json={"access_token": token, "id_token": id_token, "token_type": "Bearer"})


@pytest.fixture
def idp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, FakeIdp]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}))
    for name, value in {"AUTHORIZATION_ENDPOINT": f"{ISSUER}/authorize", "TOKEN_ENDPOINT": f"{ISSUER}/token",
                        "CLIENT_ID": "finplane-portal", "REDIRECT_URI": "https://testserver/portal/oidc/callback"}.items():
        monkeypatch.setenv(f"FINPLANE_PORTAL_OIDC_{name}", value)
    fake = FakeIdp(key)
    monkeypatch.setattr(oidc, "transport", httpx.MockTransport(fake.handle))
    cfg = ApiSettings(issuer=ISSUER, jwks=str(tmp_path / "jwks.json"), dev_mode=False, evidence_dir=None)
    cache = MemoryCache()
    with TestClient(create_app(cfg, cache=cache, writer=FakeWriter(cache)), base_url="https://testserver") as client:
        yield client, fake


def test_the_code_flow_with_pkce_signs_in_with_the_token_the_api_accepts(idp: tuple[TestClient, FakeIdp]) -> None:
    client, fake = idp
    assert "Sign in with your identity provider" in client.get("/portal/signin").text
    start = client.get("/portal/oidc/start?next=/portal/compliance", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(f"{ISSUER}/authorize?")
    code, state = fake.authorize(start.headers["location"])
    back = client.get(f"/portal/oidc/callback?code={code}&state={state}")
    assert back.status_code == 200 and 'content="0;url=/portal/compliance"' in back.text
    page = client.get("/portal/compliance", follow_redirects=False)
    assert page.status_code == 200 and "ada@bank.example" in page.text and "(auditor)" in page.text


def test_a_callback_this_browser_did_not_start_is_refused_before_any_exchange(
        idp: tuple[TestClient, FakeIdp], settings: ApiSettings) -> None:
    client, fake = idp
    start = client.get("/portal/oidc/start", follow_redirects=False)
    code, _ = fake.authorize(start.headers["location"])
    forged = client.get(f"/portal/oidc/callback?code={code}&state=attacker-state")
    assert forged.status_code == 400 and "StateMismatch" in forged.text
    client.cookies.clear()  # a victim's browser that never started a sign-in, handed the attacker's link
    _, state = fake.authorize(client.get("/portal/oidc/start", follow_redirects=False).headers["location"])
    client.cookies.clear()
    assert client.get(f"/portal/oidc/callback?code={code}&state={state}").status_code == 400
    assert fake.exchanges == 0


def test_a_code_redeemed_without_its_verifier_or_a_token_from_another_issuer_is_no_session(
        idp: tuple[TestClient, FakeIdp]) -> None:
    client, fake = idp
    start = client.get("/portal/oidc/start", follow_redirects=False)
    code, state = fake.authorize(start.headers["location"])
    fake.codes[code] = "a-challenge-of-another-verifier"
    refused = client.get(f"/portal/oidc/callback?code={code}&state={state}")
    assert refused.status_code == 401 and "CodeRefused" in refused.text
    fake.issuer = "https://evil.example"
    start = client.get("/portal/oidc/start", follow_redirects=False)
    code, state = fake.authorize(start.headers["location"])
    untrusted = client.get(f"/portal/oidc/callback?code={code}&state={state}")
    assert untrusted.status_code == 401
    assert client.get("/portal/catalog", follow_redirects=False).status_code == 303  # still signed out


def test_an_id_token_replayed_from_another_sign_in_or_without_a_nonce_is_no_session(
        idp: tuple[TestClient, FakeIdp]) -> None:
    client, fake = idp
    fake.authorize(client.get("/portal/oidc/start", follow_redirects=False).headers["location"])
    earlier_nonce = fake.nonces.popitem()[1]  # an attacker's ID token carries the nonce of a sign-in it saw
    start = client.get("/portal/oidc/start", follow_redirects=False)
    code, state = fake.authorize(start.headers["location"])
    assert fake.nonces[code] != earlier_nonce
    fake.nonces[code] = earlier_nonce
    replayed = client.get(f"/portal/oidc/callback?code={code}&state={state}")
    assert replayed.status_code == 401 and "NonceMismatch" in replayed.text
    start = client.get("/portal/oidc/start", follow_redirects=False)
    code, state = fake.authorize(start.headers["location"])
    del fake.nonces[code]  # an ID token with no nonce at all
    missing = client.get(f"/portal/oidc/callback?code={code}&state={state}")
    assert missing.status_code == 401 and "IdTokenInvalid" in missing.text
    assert client.get("/portal/catalog", follow_redirects=False).status_code == 303  # still signed out


def test_without_the_settings_there_is_no_oidc_flow(client: TestClient) -> None:
    assert client.get("/portal/oidc/start", follow_redirects=False).status_code == 404
    assert "identity provider" not in client.get("/portal/signin").text
