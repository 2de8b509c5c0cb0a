"""OpenID Connect device authorization grant (RFC 8628) for `finplane login --issuer`: a token without a browser here.

`device_login` reads the issuer's discovery document (`<issuer>/.well-known/openid-configuration`, whose
`issuer` must be the one asked for), asks its `device_authorization_endpoint` for a device code, shows the
verification URI and the user code (through `show`, never the token), then polls the `token_endpoint` every
`interval` seconds (5 when the IdP names none), five seconds slower after each `slow_down`, waiting through
`authorization_pending` and stopping with a one-line `UserError` on `access_denied` (exit 4),
`expired_token` or the code's lifetime running out (exit 7), or any other error (exit 2). The token it returns
(the access token, else the ID token, as the portal's sign-in takes it) is verified the way the platform API
verifies tokens (`platform_api.auth.tokens`): signed by a key of the issuer's `jwks_uri` with an asymmetric
algorithm that fits the key, this issuer, this API's audience, not expired, with a subject; a token meant for
another audience or from another issuer is refused before it is sent anywhere. Endpoints must be https
(plain http only on a loopback address). Called by `finplane.commands.api_login`; `pause` (time.sleep) is the
seam tests replace to poll without waiting (tests/cli/test_device_login.py).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from finplane.commands.errors import ExitCode, UserError

__all__ = ["DEVICE_GRANT", "DeviceCode", "device_login", "pause", "verify_token"]

#: How the poll waits `interval` seconds between two token requests.
pause: Callable[[float], None] = time.sleep

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_SLOW_DOWN_STEP = 5  # RFC 8628 3.5: "the interval MUST be increased by 5 seconds for this and all subsequent requests"


@dataclass(frozen=True)
class DeviceCode:
    """What the user is shown: where to go and which code to type there."""

    verification_uri: str
    user_code: str
    verification_uri_complete: str | None
    expires_in: int


def _https(url: object, what: str) -> str:
    """`url` when it is https, or http on a loopback address; UserError otherwise."""
    if not isinstance(url, str) or not url:
        raise UserError(f"the identity provider names no {what}", hint="is --issuer an OpenID Connect issuer?")
    parts = urlsplit(url)
    loopback = False
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        pass
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise UserError(f"the identity provider's {what} {url} is not https", hint="a token is never sent in clear")
    return url


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UserError(f"{what}: the identity provider answered {response.status_code} without a JSON object",
                        code=ExitCode.UNAVAILABLE)
    return body


def _number(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def verify_token(token: str, *, jwks: dict[str, Any], issuer: str, audience: str) -> dict[str, Any]:
    """The claims of `token` when the API would accept it from `issuer`; UserError (exit 4) saying why not."""
    try:
        header = jwt.get_unverified_header(token)
        keys = {k.key_id or "": k for k in jwt.PyJWKSet.from_dict(jwks).keys}
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise UserError(f"the identity provider's token cannot be checked ({exc.__class__.__name__})",
                        code=ExitCode.DENIED) from None
    alg, kid = header.get("alg"), header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else (next(iter(keys.values())) if len(keys) == 1 else None)
    if alg not in _ALGORITHMS or key is None or _KEY_TYPES[str(alg)[:2]] != key.key_type:
        raise UserError("the identity provider's token is not signed by one of its published keys",
                        code=ExitCode.DENIED)
    try:
        return dict(jwt.decode(token, key=key.key, algorithms=[str(alg)], audience=audience, issuer=issuer,
                               leeway=30, options={"require": ["exp", "iss", "aud", "sub"]}))
    except jwt.InvalidAudienceError:
        reason = f"is not meant for this API (its audience is not {audience})"
    except jwt.InvalidIssuerError:
        reason = f"was not issued by {issuer}"
    except jwt.ExpiredSignatureError:
        reason = "has already expired"
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        reason = f"is not valid ({exc.__class__.__name__})"
    raise UserError(f"the identity provider's token {reason}; not saved", hint="check --issuer and --audience",
                    code=ExitCode.DENIED)


def device_login(*, issuer: str, client_id: str, audience: str, scope: str, show: Callable[[DeviceCode], None],
                 ) -> tuple[str, dict[str, Any]]:
    """Run the device flow at `issuer`; the verified token and its claims."""
    issuer = _https(issuer.rstrip("/"), "issuer")
    with httpx.Client(timeout=30, headers={"Accept": "application/json"}) as http:
        def call(method: str, url: str, what: str, **kw: Any) -> httpx.Response:
            try:
                return http.request(method, url, **kw)
            except httpx.HTTPError as exc:
                raise UserError(f"{what}: cannot reach the identity provider at {url} ({exc.__class__.__name__})",
                                code=ExitCode.UNAVAILABLE) from None

        what = "discover the identity provider"
        found = _json(call("GET", f"{issuer}/.well-known/openid-configuration", what), what)
        if found.get("issuer") != issuer:  # OpenID Connect Discovery 4.3: the document must name the issuer asked
            raise UserError(f"{issuer}'s discovery document names another issuer ({found.get('issuer')!r})",
                            hint="check --issuer", code=ExitCode.DENIED)
        device_url = _https(found.get("device_authorization_endpoint"), "device_authorization_endpoint")
        token_url = _https(found.get("token_endpoint"), "token_endpoint")
        jwks_url = _https(found.get("jwks_uri"), "jwks_uri")

        what = "start the device login"
        answer = call("POST", device_url, what, data={"client_id": client_id, "scope": scope})
        start = _json(answer, what)
        if answer.status_code != 200:
            raise UserError(f"{what}: {start.get('error', answer.status_code)}: {start.get('error_description', '')}"
                            .rstrip(": "), hint="check --client-id: it must allow the device grant")
        device_code, user_code = start.get("device_code"), start.get("user_code")
        if not isinstance(device_code, str) or not isinstance(user_code, str):
            raise UserError(f"{what}: the identity provider gave no device or user code", code=ExitCode.UNAVAILABLE)
        complete = start.get("verification_uri_complete")
        expires_in = _number(start.get("expires_in"), 600)
        show(DeviceCode(_https(start.get("verification_uri"), "verification_uri"), user_code,
                        _https(complete, "verification_uri_complete") if complete else None, expires_in))

        interval = _number(start.get("interval"), 5)
        waited = 0
        what = "log in"
        while True:
            if waited >= expires_in:
                raise UserError(f"{what}: the code {user_code} expired before it was approved",
                                hint="run `finplane login` again", code=ExitCode.EXPIRED)
            pause(interval)
            waited += interval
            answer = call("POST", token_url, what, data={"grant_type": DEVICE_GRANT, "device_code": device_code,
                                                         "client_id": client_id})
            body = _json(answer, what)
            if answer.status_code == 200:
                break
            error = body.get("error")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += _SLOW_DOWN_STEP
                continue
            if error == "access_denied":
                raise UserError(f"{what}: the login was refused at the identity provider", code=ExitCode.DENIED)
            if error == "expired_token":
                raise UserError(f"{what}: the code {user_code} expired before it was approved",
                                hint="run `finplane login` again", code=ExitCode.EXPIRED)
            raise UserError(f"{what}: the identity provider refused: {error or answer.status_code}",
                            hint="check --issuer and --client-id")
        token = body.get("access_token") or body.get("id_token")
        if not isinstance(token, str) or not token:
            raise UserError(f"{what}: the identity provider returned no token", code=ExitCode.UNAVAILABLE)
        jwks = _json(call("GET", jwks_url, "read the identity provider's keys"), "read the identity provider's keys")
    return token, verify_token(token, jwks=jwks, issuer=issuer, audience=audience)
