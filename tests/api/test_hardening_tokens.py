"""Token attacks on the API's front door, as an anonymous client with crafted bearer tokens would try them:
a ``kid`` that is not a string, headers that are not objects, an ``alg`` that does not fit the published
key (ES256 against the IdP's RSA key, RS256 or ES384 against the P-256 development key, HS256 keyed with
the public key, ``none``), critical extensions, claims of the wrong type, oversized tokens, and any header
and payload hypothesis makes up. Every one is a 401 problem with a reason, never a 500; and a client address that keeps failing is locked out with 429
and ``Retry-After`` (configurable), before its token is even looked at, while other addresses are not."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from platform_api.app import create_app
from platform_api.auth import devkey
from platform_api.cache import MemoryCache
from platform_api.settings import ApiSettings

URL = "/api/v1/channels"
IDP = "https://idp.bank.example"


def _b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def crafted(header: Any, claims: Any, signature: bytes = b"not-a-signature") -> str:
    """A token with exactly this header and payload (PyJWT would refuse to encode most of these)."""
    return f"{_b64(header)}.{_b64(claims)}.{_b64(signature)}"


def _claims(iss: str, aud: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": iss, "aud": aud, "sub": "mallory", "role": "admin", "iat": now, "exp": now + 300, **extra}


def _refused(resp: Any) -> str:
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["www-authenticate"].startswith("Bearer")
    reason = resp.json()["reason"]
    assert isinstance(reason, str) and reason
    return str(reason)


@pytest.fixture
def idp(tmp_path: Path, settings: ApiSettings) -> tuple[ApiSettings, rsa.RSAPrivateKey]:
    """The bank's identity provider: an RSA key published (kid idp-1, RS256) in a JWKS file."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "use": "sig"})
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    cfg = settings.model_copy(update={"jwks": str(tmp_path / "jwks.json"), "issuer": IDP,
                                      "algorithms": ["RS256", "ES256", "PS256"]})
    return cfg, key


@pytest.fixture
def idp_client(idp: tuple[ApiSettings, rsa.RSAPrivateKey]) -> Iterator[TestClient]:
    with TestClient(create_app(idp[0], cache=MemoryCache(), writer=object()), raise_server_exceptions=False) as c:
        yield c


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("header", "reason"), [
    ({"alg": "RS256", "kid": 7}, "MalformedHeader"),
    ({"alg": "RS256", "kid": ["idp-1"]}, "MalformedHeader"),
    ({"alg": "RS256", "kid": {"$ne": ""}}, "MalformedHeader"),
    ({"alg": "RS256", "kid": None}, "MalformedHeader"),
    ({"alg": "RS256", "kid": ""}, "MalformedHeader"),
    ({"alg": "RS256", "kid": "k" * 300}, "MalformedHeader"),
    ({"alg": 256, "kid": "idp-1"}, "MalformedHeader"),
    ({"kid": "idp-1"}, "MalformedHeader"),
    (["RS256", "idp-1"], "MalformedHeader"),
    ("RS256", "MalformedHeader"),
    ({"alg": "RS256", "kid": "idp-1", "crit": ["exp"]}, "UnsupportedHeader"),
    ({"alg": "RS256", "kid": "idp-1", "crit": "b64", "b64": False}, "UnsupportedHeader"),
    ({"alg": "none", "kid": "idp-1"}, "UnsupportedAlgorithm"),
    ({"alg": "HS256", "kid": "idp-1"}, "UnsupportedAlgorithm"),
])
def test_a_crafted_header_is_a_401_with_a_reason_never_a_500(idp_client, idp, header, reason):
    token = crafted(header, _claims(IDP, idp[0].audience))
    assert _refused(idp_client.get(URL, headers=_bearer(token))) == reason


def test_an_es256_token_against_the_idps_rsa_key_is_refused_before_any_signature_check(idp_client, idp):
    attacker = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(_claims(IDP, idp[0].audience), attacker, algorithm="ES256", headers={"kid": "idp-1"})
    resp = idp_client.get(URL, headers=_bearer(token))
    assert _refused(resp) == "AlgorithmMismatch"
    assert "ES256" in resp.json()["detail"]


def test_a_ps256_token_fits_an_rsa_key_and_fails_only_on_its_signature(idp_client, idp):
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(IDP, idp[0].audience), attacker, algorithm="PS256", headers={"kid": "idp-1"})
    assert _refused(idp_client.get(URL, headers=_bearer(token))) == "BadSignature"


def test_a_key_published_for_one_algorithm_refuses_another(tmp_path, idp):
    cfg, key = idp
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "alg": "RS256"})
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    token = jwt.encode(_claims(IDP, cfg.audience), key, algorithm="PS256", headers={"kid": "idp-1"})
    with TestClient(create_app(cfg, cache=MemoryCache(), writer=object()), raise_server_exceptions=False) as c:
        assert _refused(c.get(URL, headers=_bearer(token))) == "AlgorithmMismatch"
        good = jwt.encode(_claims(IDP, cfg.audience), key, algorithm="RS256", headers={"kid": "idp-1"})
        assert c.get(URL, headers=_bearer(good)).status_code == 200


@pytest.mark.parametrize("alg", ["RS256", "ES384", "PS256"])
def test_a_dev_issuer_token_whose_alg_does_not_fit_the_p256_dev_key_is_refused(client, settings, alg):
    token = crafted({"alg": alg, "kid": devkey.KID}, _claims(settings.dev_issuer, settings.audience))
    assert _refused(client.get(URL, headers=_bearer(token))) == "AlgorithmMismatch"


@pytest.mark.parametrize("claims", [
    [1, 2, 3], "a string", 42, None,
    {"iss": 5, "aud": "finplane-api"},
])
def test_a_payload_that_is_not_a_claims_object_is_refused(client, claims):
    token = crafted({"alg": "ES256", "kid": devkey.KID}, claims)
    assert _refused(client.get(URL, headers=_bearer(token))) in {"MalformedToken", "MissingClaim"}


@pytest.mark.parametrize("override", [
    {"aud": 5}, {"aud": [["finplane-api"]]}, {"exp": "tomorrow"}, {"nbf": []}, {"iat": {"x": 1}},
    {"sub": 5}, {"sub": ["ada"]}, {"role": {"admin": True}}, {"team": 7, "role": "team"},
])
def test_signed_claims_of_the_wrong_type_are_refused_with_a_reason(client, settings, override):
    claims = {**_claims(settings.dev_issuer, settings.audience), **override}
    token = jwt.encode(claims, devkey.ensure_key(settings.dev_key_dir), algorithm="ES256",
                       headers={"kid": devkey.KID})
    _refused(client.get(URL, headers=_bearer(token)))


@pytest.mark.parametrize("token", ["a.b", "a.b.c.d", "..", "x" * 20_000, "e30.e30.", "%%%.%%%.%%%"])
def test_tokens_that_are_not_jwts_are_refused(client, token):
    assert _refused(client.get(URL, headers=_bearer(token))) == "MalformedToken"


def test_a_header_that_embeds_the_attackers_own_key_is_not_trusted(client, settings):
    attacker = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
    token = jwt.encode(_claims(settings.dev_issuer, settings.audience), attacker, algorithm="ES256",
                       headers={"kid": devkey.KID, "jwk": jwk, "jku": "https://evil.example/jwks"})
    assert _refused(client.get(URL, headers=_bearer(token))) == "BadSignature"


# Lockout of addresses that keep failing.

def _locked_app(settings: ApiSettings, *, limit: int = 5) -> Any:
    cfg = settings.model_copy(update={"auth_failure_limit": limit, "auth_failure_window_seconds": 60.0})
    return create_app(cfg, cache=MemoryCache(), writer=object())


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_that_keeps_failing_gets_429_with_retry_after_even_with_a_valid_token(settings, mint):
    app = _locked_app(settings)
    clock = _Clock()
    app.state.finplane.failures.clock = clock
    with TestClient(app, raise_server_exceptions=False) as attacker:
        for _ in range(5):
            assert attacker.get(URL, headers=_bearer("junk.junk.junk")).status_code == 401
        resp = attacker.get(URL, headers=_bearer(mint("admin")))
        assert resp.status_code == 429
        assert resp.json()["reason"] == "TooManyAuthFailures"
        assert resp.headers["retry-after"] == "60"
        assert attacker.get(URL).status_code == 429
        clock.now += 61
        assert attacker.get(URL, headers=_bearer(mint("admin"))).status_code == 200


def test_anonymous_requests_count_as_failures(settings):
    with TestClient(_locked_app(settings, limit=3), raise_server_exceptions=False) as anonymous:
        assert [anonymous.get(URL).status_code for _ in range(4)] == [401, 401, 401, 429]


def test_a_locked_address_does_not_lock_out_other_addresses_or_health_probes(settings, mint):
    app = _locked_app(settings, limit=2)
    with TestClient(app, raise_server_exceptions=False, client=("203.0.113.9", 4000)) as attacker, \
            TestClient(app, raise_server_exceptions=False, client=("198.51.100.7", 4000)) as colleague:
        for _ in range(3):
            attacker.get(URL)
        assert attacker.get(URL, headers=_bearer(mint("admin"))).status_code == 429
        assert attacker.get("/healthz").status_code == 200
        assert colleague.get(URL, headers=_bearer(mint("admin"))).status_code == 200


def test_ipv6_addresses_of_one_64_block_share_their_failures(settings):
    app = _locked_app(settings, limit=2)
    clients = [TestClient(app, raise_server_exceptions=False, client=(f"2001:db8:1:2::{i}", 4000)) for i in (1, 2, 3)]
    with clients[0], clients[1], clients[2]:
        assert [c.get(URL).status_code for c in clients] == [401, 401, 429]


def test_a_locked_address_is_refused_before_its_body_is_read(settings):
    app = _locked_app(settings, limit=1)
    with TestClient(app, raise_server_exceptions=False) as attacker:
        attacker.get(URL)
        resp = attacker.post(URL, content=b"{" * 10, headers={"Content-Type": "application/json"})
    assert resp.status_code == 429  # not 400 (the over-deep JSON was never looked at)


def test_the_lockout_is_configurable_from_the_environment(monkeypatch):
    monkeypatch.setenv("FINPLANE_API_AUTH_FAILURE_LIMIT", "7")
    monkeypatch.setenv("FINPLANE_API_AUTH_FAILURE_WINDOW_SECONDS", "15")
    cfg = ApiSettings()
    assert (cfg.auth_failure_limit, cfg.auth_failure_window_seconds) == (7, 15.0)



_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=8)
_header = st.fixed_dictionaries({}, optional={"alg": st.sampled_from(["ES256", "RS256", "none", "HS256"]) | _json,
                                              "kid": st.just(devkey.KID) | _json, "typ": _json, "crit": _json,
                                              "jwk": _json, "x5c": _json}) | _json
_claims_strategy = st.fixed_dictionaries({}, optional={"iss": st.just("https://finplane.local/dev") | _json,
                                                       "aud": st.just("finplane-api") | _json, "sub": _json,
                                                       "exp": _json, "nbf": _json, "role": _json}) | _json


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=_header, claims=_claims_strategy)
def test_no_crafted_header_or_payload_ever_gets_more_than_a_401(header, claims, generous):
    resp = generous.get(URL, headers=_bearer(crafted(header, claims)))
    _refused(resp)


@pytest.fixture
def generous(settings: ApiSettings) -> Iterator[TestClient]:
    """An app whose lockout never triggers, so that every fuzzed token reaches the verifier."""
    app = create_app(settings.model_copy(update={"auth_failure_limit": 10**9}), cache=MemoryCache(), writer=object())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
