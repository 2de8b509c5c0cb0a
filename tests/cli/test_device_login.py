"""`finplane login --issuer`: the OpenID Connect device authorization grant (RFC 8628) against a fake IdP.

The fake identity provider is a real HTTP server on loopback (discovery, device authorization, token and
JWKS endpoints); beside it, the platform API's login check route verifies bearer tokens with the API's own
`TokenVerifier` trusting that IdP. The command runs in-process with the poll's pause recorded instead of
slept. Covers: the user is shown the verification URI and the user code, never the token; the poll waits
`interval`, keeps waiting through `authorization_pending` and five seconds longer after each `slow_down`;
the token saved (mode 0600) is one the API's verifier accepts; `access_denied` exits 4, `expired_token`
and a code whose lifetime ran out exit 7, each in one line; and, as an attacker would try, a token for
another audience, from another issuer or signed by a key the IdP does not publish, a discovery document
naming another issuer, and a token endpoint in clear text are all refused (exit 4, or 2 for clear text)
without the token reaching the API or the login file.
"""

from __future__ import annotations

import asyncio
import json
import stat
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from finplane import cli
from finplane.apiclient import device
from platform_api.auth.tokens import AuthError, TokenVerifier
from platform_api.settings import ApiSettings

CLIENT_ID = "finplane-cli"
DEVICE_CODE = "dev-code-7f3a"


@dataclass
class Idp:
    """What the fake IdP answers, and what it and the API were asked."""

    base: str = ""
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                                                    key_size=2048))
    answers: list[str] = field(default_factory=list)  # errors of the token endpoint before it gives the token
    claims: dict[str, Any] = field(default_factory=dict)  # overrides of the token's claims
    discovery: dict[str, Any] = field(default_factory=dict)  # overrides of the discovery document
    signing_key: rsa.RSAPrivateKey | None = None  # sign with this key instead of the published one
    interval: int = 2
    expires_in: int = 600
    polls: list[dict[str, list[str]]] = field(default_factory=list)
    api_tokens: list[str] = field(default_factory=list)
    issued: str = ""
    verifier: TokenVerifier | None = None  # the API's, trusting this IdP (its issuer is known once it listens)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    def token(self) -> str:
        now = int(time.time())
        claims = {"iss": self.base, "aud": "finplane-api", "sub": "ada@bank.example", "iat": now, "exp": now + 600,
                  "role": "auditor", **self.claims}
        self.issued = jwt.encode(claims, self.signing_key or self.key, algorithm="RS256", headers={"kid": "k1"})
        return self.issued


def _serve(idp: Idp) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self.reply(200, {"issuer": idp.base, "device_authorization_endpoint": f"{idp.base}/device",
                                 "token_endpoint": f"{idp.base}/token", "jwks_uri": f"{idp.base}/jwks",
                                 **idp.discovery})
            elif self.path == "/jwks":
                self.reply(200, idp.jwks())
            elif self.path == "/api/v1/compliance/evidence/public-key":  # the API's login check, its own verifier
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                idp.api_tokens.append(bearer)
                try:
                    asyncio.run(idp.verifier.verify(bearer))  # type: ignore[union-attr]
                except AuthError as exc:
                    self.reply(401, {"reason": exc.reason, "detail": str(exc)})
                    return
                self.reply(404, {"reason": "NotFound"})  # no key yet: the token is fine
            else:
                self.reply(404, {})

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            if self.path == "/device":
                assert form["client_id"] == [CLIENT_ID]
                self.reply(200, {"device_code": DEVICE_CODE, "user_code": "WDJB-MJHT",
                                 "verification_uri": f"{idp.base}/activate", "expires_in": idp.expires_in,
                                 "interval": idp.interval})
            elif self.path == "/token":
                idp.polls.append(form)
                if form.get("grant_type") != [device.DEVICE_GRANT] or form.get("device_code") != [DEVICE_CODE]:
                    self.reply(400, {"error": "invalid_grant"})
                elif idp.answers:
                    self.reply(400, {"error": idp.answers.pop(0)})
                else:
                    self.reply(200, {"access_token": idp.token(), "token_type": "Bearer", "expires_in": 600})
            else:
                self.reply(404, {})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    idp.base = f"http://127.0.0.1:{server.server_address[1]}"
    return server


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    found = Idp()
    jwks = tmp_path / "jwks.json"
    server = _serve(found)
    jwks.write_text(json.dumps(found.jwks()))
    found.verifier = TokenVerifier(ApiSettings(issuer=found.base, audience="finplane-api", jwks=str(jwks)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield found
    server.shutdown()
    server.server_close()


@dataclass
class Run:
    code: int
    out: str
    err: str
    pauses: list[float]
    saved: Path


@pytest.fixture
def login(idp: Idp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    saved = tmp_path / "home/config.json"
    monkeypatch.setenv("FINPLANE_CONFIG", str(saved))
    for name in ("FINPLANE_OIDC_ISSUER", "FINPLANE_OIDC_CLIENT_ID", "FINPLANE_OIDC_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)

    def run(*extra: str) -> Run:
        pauses: list[float] = []
        monkeypatch.setattr(device, "pause", pauses.append)
        monkeypatch.setattr(sys, "argv", ["finplane", "login", "--url", idp.base, "--issuer", idp.base,
                                          "--client-id", CLIENT_ID, *extra])
        with pytest.raises(SystemExit) as exited:
            cli.main()
        captured = capsys.readouterr()
        return Run(int(exited.value.code or 0), captured.out, captured.err, pauses, saved)

    yield run


def test_the_user_sees_where_to_log_in_and_the_poll_waits_through_pending_and_slow_down(idp: Idp, login: Any) -> None:
    idp.answers = ["authorization_pending", "slow_down", "authorization_pending"]
    run = login()
    assert run.code == 0, run.err
    assert f"open {idp.base}/activate and enter the code WDJB-MJHT" in run.err
    assert run.pauses == [2, 2, 7, 7]  # interval 2, then 5 s more for this and every later request
    assert len(idp.polls) == 4 and all(p["client_id"] == [CLIENT_ID] for p in idp.polls)
    assert "logged in to" in run.out and "as ada@bank.example (role auditor)" in run.out
    assert idp.issued not in run.out + run.err
    assert stat.S_IMODE(run.saved.stat().st_mode) == 0o600
    assert json.loads(run.saved.read_text())["token"] == idp.issued
    assert idp.api_tokens == [idp.issued]  # the API's own verifier accepted it before it was saved


@pytest.mark.parametrize(("answer", "code", "says"), [("access_denied", 4, "the login was refused"),
                                                       ("expired_token", 7, "the code WDJB-MJHT expired")],
                         ids=["denied", "expired"])
def test_a_refused_or_expired_code_is_one_line_and_its_own_exit_code(idp: Idp, login: Any, answer: str, code: int,
                                                                     says: str) -> None:
    idp.answers = ["authorization_pending", answer]
    run = login()
    assert run.code == code and says in run.err
    assert run.err.splitlines()[-1].startswith("finplane: error: ") and "Traceback" not in run.err
    assert not run.saved.exists() and idp.api_tokens == []


def test_a_code_whose_lifetime_runs_out_while_pending_stops_polling(idp: Idp, login: Any) -> None:
    idp.expires_in, idp.answers = 5, ["authorization_pending"] * 10
    run = login()
    assert run.code == 7 and "expired before it was approved" in run.err
    assert run.pauses == [2, 2, 2] and len(idp.polls) == 3  # 6 s waited: the code lived 5
    assert not run.saved.exists()


@pytest.mark.parametrize("attack", ["other-audience", "other-issuer", "unpublished-key", "discovery-issuer",
                                    "clear-text-token-endpoint"])
def test_a_token_the_api_should_not_get_is_refused_before_it_is_sent_or_saved(idp: Idp, login: Any,
                                                                              attack: str) -> None:
    code, says = 4, ""
    if attack == "other-audience":
        idp.claims, says = {"aud": "payments-ledger"}, "is not meant for this API"
    elif attack == "other-issuer":
        idp.claims, says = {"iss": "https://evil.example"}, f"was not issued by {idp.base}"
    elif attack == "unpublished-key":
        idp.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        says = "is not valid"
    elif attack == "discovery-issuer":
        idp.discovery, says = {"issuer": "https://evil.example"}, "names another issuer"
    else:
        idp.discovery, says, code = {"token_endpoint": "http://idp.evil.example/token"}, "is not https", 2
    run = login()
    assert run.code == code and says in run.err, run.err
    assert not run.saved.exists() and idp.api_tokens == []
    if idp.issued:
        assert idp.issued not in run.out + run.err
