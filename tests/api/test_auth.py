"""Authentication: valid tokens pass; missing, malformed, expired, not-yet-valid, wrongly signed,
wrong-audience, untrusted-issuer and role-less tokens get 401 with a reason; the development key is
trusted only in dev mode; an external issuer's JWKS file (RS256) is honoured."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from platform_api.app import create_app
from platform_api.auth import devkey
from platform_api.cache import MemoryCache
from platform_api.settings import ApiSettings

URL = "/api/v1/channels"


def _reason(resp) -> str:  # type: ignore[no-untyped-def]
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["www-authenticate"].startswith("Bearer")
    return str(resp.json()["reason"])


def test_a_valid_development_token_is_accepted(client, as_):
    assert client.get(URL, headers=as_("auditor")).status_code == 200


def test_a_request_without_a_token_is_refused_with_a_reason(client):
    assert _reason(client.get(URL)) == "MissingToken"


def test_a_non_bearer_authorization_header_is_refused(client):
    assert _reason(client.get(URL, headers={"Authorization": "Basic dXNlcjpwYXNz"})) == "MalformedHeader"


def test_a_malformed_token_is_refused(client):
    assert _reason(client.get(URL, headers={"Authorization": "Bearer not.a.jwt"})) == "MalformedToken"


def test_an_expired_token_is_refused_beyond_the_leeway(client, mint):
    token = mint("admin", ttl=-120)  # leeway is 30 s
    resp = client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert _reason(resp) == "TokenExpired"
    assert "expired" in resp.json()["detail"]


def test_a_token_just_past_expiry_is_accepted_within_the_leeway(client, mint):
    token = mint("admin", ttl=-5)
    assert client.get(URL, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_token_not_yet_valid_is_refused(client, mint):
    token = mint("admin", not_before=int(time.time()) + 600)
    assert _reason(client.get(URL, headers={"Authorization": f"Bearer {token}"})) == "TokenNotYetValid"


def test_a_token_signed_by_another_key_is_refused(client, settings, tmp_path):
    other = settings.model_copy(update={"dev_key_dir": tmp_path / "other-keys"})
    token = devkey.mint(role="admin", settings=other)
    assert _reason(client.get(URL, headers={"Authorization": f"Bearer {token}"})) == "BadSignature"


def test_a_token_for_another_audience_is_refused(client, settings):
    token = devkey.mint(role="admin", settings=settings.model_copy(update={"audience": "someone-else"}))
    assert _reason(client.get(URL, headers={"Authorization": f"Bearer {token}"})) == "WrongAudience"


def test_a_token_without_a_valid_role_is_refused(client, mint):
    assert _reason(client.get(URL, headers={"Authorization": f"Bearer {mint('superuser')}"})) == "InvalidClaims"


def test_a_team_token_without_its_team_is_refused(client, mint):
    assert _reason(client.get(URL, headers={"Authorization": f"Bearer {mint('team')}"})) == "InvalidClaims"


def test_development_tokens_are_not_trusted_outside_dev_mode(settings, mint):
    app = create_app(settings.model_copy(update={"dev_mode": False}), cache=MemoryCache(), writer=object())
    with TestClient(app) as c:
        resp = c.get(URL, headers={"Authorization": f"Bearer {mint('admin')}"})
    assert _reason(resp) == "UntrustedIssuer"


@pytest.fixture
def idp(tmp_path: Path, settings: ApiSettings):  # type: ignore[no-untyped-def]
    """An external identity provider: an RSA key published in a JWKS file."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "use": "sig", "alg": "RS256"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    cfg = settings.model_copy(update={"jwks": str(jwks), "issuer": "https://idp.bank.example"})

    def token(**claims):  # type: ignore[no-untyped-def]
        now = int(time.time())
        body = {"iss": "https://idp.bank.example", "aud": cfg.audience, "sub": "alice", "iat": now,
                "exp": now + 300, "role": "auditor", **claims}
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": claims.pop("kid", "idp-1")})

    return cfg, token


def test_a_token_from_the_configured_issuer_verifies_against_its_jwks_file(idp):
    cfg, token = idp
    with TestClient(create_app(cfg, cache=MemoryCache(), writer=object())) as c:
        assert c.get(URL, headers={"Authorization": f"Bearer {token()}"}).status_code == 200
        assert _reason(c.get(URL, headers={"Authorization": f"Bearer {token(iss='https://evil.example')}"})) \
            == "WrongIssuer"


def test_a_token_with_an_unknown_key_id_is_refused(idp):
    cfg, token = idp
    forged = jwt.encode({"iss": "https://idp.bank.example", "aud": cfg.audience, "sub": "x", "role": "admin",
                         "exp": int(time.time()) + 60}, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        algorithm="RS256", headers={"kid": "idp-2"})
    with TestClient(create_app(cfg, cache=MemoryCache(), writer=object())) as c:
        assert _reason(c.get(URL, headers={"Authorization": f"Bearer {forged}"})) == "UnknownKey"


def test_the_dev_key_is_generated_once_and_kept_private(settings):
    devkey.ensure_key(settings.dev_key_dir)
    path = settings.dev_key_dir / devkey.KEY_FILE
    first = path.read_bytes()
    devkey.ensure_key(settings.dev_key_dir)
    assert path.read_bytes() == first
    assert path.stat().st_mode & 0o077 == 0
