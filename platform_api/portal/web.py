"""The portal's plumbing: templates, security headers, the signed-in viewer, CSRF-checked forms, HTML errors.

Used by every page module of :mod:`platform_api.portal`. The viewer's identity comes from the session's
bearer token, verified by the API's own :class:`~platform_api.auth.tokens.TokenVerifier` and resolved to a
team by :func:`platform_api.services.teams.resolve`, exactly as :func:`platform_api.deps.current_identity`
does for API calls: the portal has no authorisation of its own, the services decide. Every portal route
runs under :class:`PortalRoute`, which turns a service's :class:`~platform_api.problems.Problem` into an
HTML page with the same status and adds the strict Content-Security-Policy to every answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, RedirectResponse, Response

from platform_api.auth.identity import Identity, Role
from platform_api.auth.tokens import AuthError
from platform_api.cache import ReadCache
from platform_api.portal.config import PortalSettings
from platform_api.portal.rows import RowCache
from platform_api.portal.session import Session, SessionCodec
from platform_api.problems import Problem
from platform_api.security import forbidden_text
from platform_api.services import teams
from platform_api.state import AppState, Writer

__all__ = ["CSP", "Portal", "PortalRoute", "SignInRequired", "Viewer", "cache_of", "checked_form", "page",
           "portal_of", "redirect", "security_headers", "signed_in", "viewer", "writer_of"]

#: No inline script or style, nothing from another origin, no framing, forms post only here.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
TEMPLATES = Path(__file__).parent / "templates"
_MAX_FIELDS = 100


@dataclass
class Portal:
    """The portal's collaborators, kept in ``AppState.extras['portal']`` by :func:`platform_api.portal.install`."""

    settings: PortalSettings
    codec: SessionCodec
    env: jinja2.Environment
    rows: RowCache = field(init=False)  # the catalog's rendered rows, by capability version

    def __post_init__(self) -> None:
        self.rows = RowCache(self.env)


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page: the session (always) and the verified identity (when signed in)."""

    session: Session
    identity: Identity | None
    csrf: str
    fresh: bool  # the session cookie must be (re)written on the answer

    @property
    def role(self) -> str | None:
        return self.identity.role.value if self.identity else None

    def is_(self, *roles: Role) -> bool:
        return self.identity is not None and self.identity.role in roles


class SignInRequired(Exception):
    """Raised by pages that need a signed-in viewer; answered with a redirect to the sign-in page."""


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.finplane.extras["portal"]
    return portal


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.finplane
    return state


def cache_of(request: Request) -> ReadCache:
    """The API's read cache, or the API's own 503 while it has not synced."""
    cache = _state(request).cache
    if cache is None or not cache.ready:
        raise Problem(503, "The API's cache has not synced with the cluster yet; retry shortly.",
                      slug="not-ready", reason="CacheNotReady", headers={"Retry-After": "2"})
    return cache


def writer_of(request: Request) -> Writer:
    writer = _state(request).writer
    if writer is None:
        raise Problem(503, "The API is not connected to the cluster.", slug="not-ready", reason="NotConnected")
    return writer


def security_headers(response: Response, *, csp: str = CSP) -> Response:
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the portal's own forms.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _identity(request: Request, token: str) -> Identity | None:
    state = _state(request)
    try:
        identity = await state.verifier.verify(token)
    except AuthError:
        return None  # expired or no longer trusted: the viewer signs in again
    identity = teams.resolve(identity, state.cache, state.settings)
    request.scope["finplane.identity"] = identity  # the audit log and the evidence chain name the caller
    state.limiter.check(identity.key)
    return identity


async def viewer(request: Request) -> Viewer:
    """The dependency of every page: the session (created anonymous when absent) and its identity."""
    portal = portal_of(request)
    session = portal.codec.read(request)
    fresh = session is None
    if session is None:
        session = Session.anonymous(ttl=portal.settings.session_max_age_seconds)
    identity = await _identity(request, session.token) if session.token else None
    if session.token and identity is None:
        session, fresh = Session.anonymous(ttl=portal.settings.session_max_age_seconds), True
    request.state.portal_viewer = (session, fresh)
    return Viewer(session=session, identity=identity, csrf=portal.codec.csrf_token(session), fresh=fresh)


async def signed_in(request: Request) -> Viewer:
    """Like :func:`viewer`, but a page that needs a signed-in viewer sends the others to the sign-in page."""
    seen = await viewer(request)
    if seen.identity is None:
        raise SignInRequired
    return seen


def _origin_ok(request: Request) -> bool:
    """False for a form another site sent: by Fetch metadata, or an Origin whose host is not this one."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # an older client: the CSRF token still decides
    # The host only: behind a TLS-terminating proxy the scheme the app sees may differ from the browser's.
    return origin.split("://", 1)[-1] == request.url.netloc


async def checked_form(request: Request, seen: Viewer) -> dict[str, str]:
    """The posted form, once its origin and CSRF token are checked (403 otherwise); values text-checked (422)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise Problem(415, "Portal forms are sent as application/x-www-form-urlencoded.", reason="UnsupportedMediaType")
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "The form could not be read.", reason="MalformedForm") from None
    if not _origin_ok(request):
        raise Problem(403, "The form was sent from another site.", slug="forbidden", reason="CrossOriginForm")
    form = dict(pairs)
    if not portal_of(request).codec.csrf_ok(seen.session, form.get("csrf_token")):
        raise Problem(403, "The form's CSRF token is missing or not this session's; reload the page and retry.",
                      slug="forbidden", reason="CsrfTokenInvalid")
    form.pop("csrf_token", None)
    errors = forbidden_text(form, root="form")
    if errors:
        raise Problem(422, "The form contains characters that are not allowed; see errors.", slug="validation",
                      reason="ForbiddenCharacter", errors=errors)
    return form


def _finish(request: Request, response: Response) -> Response:
    session, fresh = getattr(request.state, "portal_viewer", (None, False))
    if fresh and session is not None:
        portal_of(request).codec.write(response, session)
    return security_headers(response)


def page(request: Request, template: str, seen: Viewer | None, *, status: int = 200, **context: Any) -> Response:
    """Render ``template`` for the viewer, with the security headers (and the session cookie when new)."""
    env = portal_of(request).env
    html = env.get_template(template).render(request=request, viewer=seen, path=request.url.path,
                                             now=int(time.time()), **context)
    return _finish(request, HTMLResponse(html, status_code=status))


def redirect(request: Request, url: str) -> Response:
    """303 See Other to a portal URL (after a POST: the browser GETs the result)."""
    return _finish(request, RedirectResponse(url, status_code=303))


def _error_page(request: Request, status: int, detail: str, reason: str | None,
                errors: list[dict[str, str]] | None, headers: dict[str, str] | None = None) -> Response:
    seen = None
    state = getattr(request.state, "portal_viewer", None)
    if state is not None:
        session, _ = state
        identity = request.scope.get("finplane.identity")
        seen = Viewer(session=session, identity=identity, csrf=portal_of(request).codec.csrf_token(session),
                      fresh=False)
    response = page(request, "error.html", seen, status=status, detail=detail, reason=reason, errors=errors or [])
    for key, value in (headers or {}).items():
        if key.lower() in ("retry-after", "allow"):
            response.headers[key] = value
    return response


class PortalRoute(APIRoute):
    """A route whose refusals are HTML pages (status, detail, reason) and whose answers carry the CSP."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await inner(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return _finish(request, RedirectResponse(f"/portal/signin?next={quote(target, safe='')}",
                                                         status_code=303))
            except Problem as exc:
                return _error_page(request, exc.status, exc.detail, exc.reason, exc.errors, exc.headers)
            except RequestValidationError as exc:
                errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg"))}
                          for e in exc.errors()]
                return _error_page(request, 422, "The request is not valid; see errors.", "ValidationFailed", errors)
            if "content-security-policy" not in response.headers:
                security_headers(response)
            return response

        return handler
