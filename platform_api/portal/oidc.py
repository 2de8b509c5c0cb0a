"""OpenID Connect sign-in: the authorization code flow with PKCE (S256) against the configured IdP.

Routes of :data:`router`, included by :func:`platform_api.portal.install`, offered when the
``FINPLANE_PORTAL_OIDC_*`` settings name the endpoints and the client. ``/portal/oidc/start`` draws a
state, a nonce and a code verifier, keeps them in a short-lived signed HttpOnly cookie and sends the
browser to the IdP with the verifier's S256 challenge; ``/portal/oidc/callback`` checks the state against
that cookie, exchanges the code (with the verifier) at the token endpoint, checks the ID token (signed by
the trusted issuer's keys, meant for this client, carrying the nonce drawn for this sign-in: an ID token
replayed from another sign-in is refused) and signs in with the token the IdP returns for this API (the
access token, else the ID token), verified by the API's own verifier (issuer, audience, JWKS), so a token
the API would refuse is no session either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from platform_api.auth.headers import parse_header
from platform_api.auth.tokens import AuthError, TokenVerifier
from platform_api.portal.config import PortalSettings
from platform_api.portal.pages_signin import safe_next, start_session
from platform_api.portal.web import PortalRoute, Viewer, page, portal_of, security_headers, viewer
from platform_api.problems import Problem

__all__ = ["STATE_COOKIE", "challenge", "check_id_token", "router", "transport"]

router = APIRouter(prefix="/portal/oidc", route_class=PortalRoute, include_in_schema=False)
AnyViewer = Annotated[Viewer, Depends(viewer)]
STATE_COOKIE = "finplane-oidc"
_STATE_TTL = 600
#: The HTTP transport of the token exchange; tests put a fake identity provider here.
transport: httpx.AsyncBaseTransport | None = None


def challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _configured(cfg: PortalSettings) -> tuple[str, str, str, str]:
    if not (cfg.oidc_authorization_endpoint and cfg.oidc_token_endpoint and cfg.oidc_client_id
            and cfg.oidc_redirect_uri):
        raise Problem(404, "OpenID Connect sign-in is not configured.", reason="NotFound")
    return cfg.oidc_authorization_endpoint, cfg.oidc_token_endpoint, cfg.oidc_client_id, cfg.oidc_redirect_uri


@router.get("/start")
async def start(request: Request, seen: AnyViewer,
                next: Annotated[str | None, Query(max_length=2048)] = None) -> Response:
    portal = portal_of(request)
    authorize, _, client_id, redirect_uri = _configured(portal.settings)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "scope": portal.settings.oidc_scopes, "state": state, "nonce": nonce,
                       "code_challenge": challenge(verifier), "code_challenge_method": "S256"})
    response = RedirectResponse(f"{authorize}?{query}", status_code=303)
    value = portal.codec.sign("oidc", {"state": state, "nonce": nonce, "verifier": verifier,
                                       "next": safe_next(next), "exp": int(time.time()) + _STATE_TTL})
    # Lax, not Strict: the IdP's redirect back is a top-level navigation from another site.
    response.set_cookie(STATE_COOKIE, value, max_age=_STATE_TTL, path="/portal/oidc/", httponly=True,
                        samesite="lax", secure=portal.codec.secure)
    return security_headers(response)


async def _exchange(token_endpoint: str, form: dict[str, str]) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            answer = await client.post(token_endpoint, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        raise Problem(502, "The identity provider could not be reached.", reason="IdpUnavailable") from None
    if answer.status_code != 200:
        raise Problem(401, "The identity provider refused the sign-in code.", reason="CodeRefused")
    try:
        body = answer.json()
    except ValueError:
        raise Problem(502, "The identity provider's answer is not JSON.", reason="IdpAnswerInvalid") from None
    return body if isinstance(body, dict) else {}


async def check_id_token(verifier: TokenVerifier, id_token: object, *, client_id: str, nonce: str) -> None:
    """Refuse (401) an ID token that is missing, not signed by the trusted issuer, not for this client, or
    whose nonce is not the one drawn when this browser started the sign-in (OpenID Connect Core 3.1.3.7)."""
    if not isinstance(id_token, str):
        raise Problem(401, "The identity provider returned no ID token.", reason="IdTokenMissing")
    try:
        header = parse_header(id_token)
        issuer = jwt.decode(id_token, options={"verify_signature": False}).get("iss")
        if not isinstance(issuer, str):
            raise AuthError("MissingClaim", "the ID token has no issuer (iss)")
        # The API's own key source (the JWKS of the trusted issuer), so the ID token meets the same trust.
        key, expected_issuer, alg = await verifier._key_for(id_token, header, issuer)  # noqa: SLF001
        claims = jwt.decode(id_token, key=key, algorithms=[alg], audience=client_id, issuer=expected_issuer,
                            leeway=verifier.settings.leeway_seconds,
                            options={"require": ["exp", "iss", "aud", "sub", "nonce"]})
    except AuthError as exc:
        raise Problem(401, f"The ID token is not accepted: {exc.message}", reason=exc.reason) from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise Problem(401, "The ID token is not valid for this client.", reason="IdTokenInvalid") from None
    if not hmac.compare_digest(str(claims.get("nonce")), nonce):
        raise Problem(401, "The ID token was not issued for this sign-in (nonce mismatch); start again.",
                      reason="NonceMismatch")


@router.get("/callback")
async def callback(request: Request, seen: AnyViewer, code: Annotated[str | None, Query(max_length=4096)] = None,
                   state: Annotated[str | None, Query(max_length=256)] = None,
                   error: Annotated[str | None, Query(max_length=256)] = None) -> Response:
    portal = portal_of(request)
    _, token_endpoint, client_id, redirect_uri = _configured(portal.settings)
    kept = portal.codec.unsign("oidc", request.cookies.get(STATE_COOKIE))
    if error:
        raise Problem(401, f"The identity provider did not sign you in ({error}).", reason="IdpError")
    if kept is None or not state or not hmac.compare_digest(str(kept.get("state")), state) or not code:
        raise Problem(400, "This sign-in was not started here or has expired; start again.", reason="StateMismatch")
    tokens = await _exchange(token_endpoint, {"grant_type": "authorization_code", "code": code,
                                              "redirect_uri": redirect_uri, "client_id": client_id,
                                              "code_verifier": str(kept["verifier"])})
    verifier: TokenVerifier = request.app.state.finplane.verifier
    await check_id_token(verifier, tokens.get("id_token"), client_id=client_id, nonce=str(kept.get("nonce")))
    token = tokens.get("access_token") or tokens.get("id_token")
    if not isinstance(token, str):
        raise Problem(502, "The identity provider returned no token.", reason="IdpAnswerInvalid")
    try:
        await verifier.verify(token)
    except AuthError as exc:
        raise Problem(401, f"The identity provider's token is not accepted here: {exc.message}",
                      reason=exc.reason) from None
    # Only the expiry is read here: the signature was verified just above.
    expiry = int(jwt.decode(token, options={"verify_signature": False}).get("exp") or time.time() + 300)
    start_session(request, token, target="", token_expiry=expiry)
    # A page, not a redirect: a redirect chain that began at the IdP is cross-site, and the browser would not
    # send the SameSite=Strict session cookie on it; the page's own refresh is a same-site navigation.
    response = page(request, "signed_in.html", None, next=safe_next(str(kept.get("next") or "")))
    response.delete_cookie(STATE_COOKIE, path="/portal/oidc/")
    return response
