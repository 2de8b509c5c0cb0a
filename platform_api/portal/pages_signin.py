"""Sign-in and sign-out: the dev-mode page (any role and subject) and the portal's front door.

Routes of :data:`router`, included by :func:`platform_api.portal.install`. The dev sign-in mints a
development token (trusted only when the API runs in dev mode, as `finplane dev` runs it) and keeps it
in a new signed session: a new session id on every sign-in, so a session id planted before sign-in
is worth nothing after it. OpenID Connect sign-in is in :mod:`platform_api.portal.oidc`.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from platform_api.auth import devkey
from platform_api.auth.identity import Role
from platform_api.auth.tokens import AuthError
from platform_api.cache import TEAM
from platform_api.portal.session import Session
from platform_api.portal.web import PortalRoute, Viewer, checked_form, page, portal_of, redirect, viewer
from platform_api.problems import Problem

__all__ = ["home_of", "router", "safe_next", "start_session"]

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
AnyViewer = Annotated[Viewer, Depends(viewer)]


def safe_next(target: str | None) -> str:
    """A portal path to go to after sign-in; anything else (another site, ``//host``) becomes the home page."""
    if target and target.startswith("/portal/") and not target.startswith("//") and "\\" not in target \
            and not any(ord(c) < 0x21 for c in target):
        return target
    return "/portal/"


def home_of(seen: Viewer) -> str:
    if seen.identity is None:
        return "/portal/signin"
    return "/portal/sandboxes" if seen.identity.role is Role.PARTNER else "/portal/catalog"


def start_session(request: Request, token: str, *, target: str, token_expiry: int) -> Response:
    """A new session (new id) holding ``token`` (written on the answer), and a redirect to ``target``."""
    portal = portal_of(request)
    expires = min(int(time.time()) + portal.settings.session_max_age_seconds, token_expiry)
    request.state.portal_viewer = (Session(sid=Session.anonymous(ttl=1).sid, expires=expires, token=token), True)
    return redirect(request, safe_next(target))


@router.get("/")
async def home(request: Request, seen: AnyViewer) -> Response:
    return redirect(request, home_of(seen))


@router.get("/signin")
async def signin_page(request: Request, seen: AnyViewer,
                      next: Annotated[str | None, Query(max_length=2048)] = None) -> Response:
    state = request.app.state.finplane
    portal = portal_of(request)
    return page(request, "signin.html", seen, next=safe_next(next), dev_mode=state.settings.dev_mode,
                oidc=bool(portal.settings.oidc_authorization_endpoint and portal.settings.oidc_token_endpoint
                          and portal.settings.oidc_client_id and portal.settings.oidc_redirect_uri),
                choices=_choices(request), role="team", subject="", team="", partner="", groups="", problem=None)


def _choices(request: Request) -> dict[str, list[str]]:
    """The Teams and the IdP groups their owners and members name (suggestions for the dev sign-in)."""
    cache = request.app.state.finplane.cache
    found = cache.list(TEAM) if cache is not None and cache.ready else []
    groups = {str(m.get("name")) for t in found for m in ((t.get("spec") or {}).get("owners") or [])
              + ((t.get("spec") or {}).get("members") or []) if isinstance(m, dict) and m.get("kind") == "Group"}
    return {"teams": sorted(str(t["metadata"]["name"]) for t in found), "group_names": sorted(groups)}


@router.post("/signin")
async def signin(request: Request, seen: AnyViewer) -> Response:
    state = request.app.state.finplane
    if not state.settings.dev_mode:
        raise Problem(404, "The development sign-in exists only in dev mode.", reason="NotFound")
    form = await checked_form(request, seen)
    role, subject = form.get("role", ""), form.get("subject", "").strip()
    team = form.get("team", "").strip() or None
    partner = form.get("partner", "").strip() or None
    groups = [g.strip() for g in form.get("groups", "").split(",") if g.strip()][:32]
    ttl = portal_of(request).settings.session_max_age_seconds
    try:
        if role not in {r.value for r in Role}:
            raise AuthError("InvalidClaims", "choose one of the roles team, partner, auditor or admin")
        token = devkey.mint(role=role, subject=subject or None, team=team if role == "team" else None,
                            partner=partner if role == "partner" else None, ttl=ttl, settings=state.settings,
                            groups=groups or None)
        await state.verifier.verify(token)  # the same checks as any API call (subject, team or partner claim)
    except AuthError as exc:
        problem = Problem(422, exc.message, reason=exc.reason)
        return page(request, "signin.html", seen, status=422, next=safe_next(form.get("next")), dev_mode=True,
                    oidc=False, choices=_choices(request), role=role, subject=subject, team=team or "",
                    partner=partner or "", groups=form.get("groups", ""), problem=problem)
    return start_session(request, token, target=form.get("next", ""), token_expiry=int(time.time()) + ttl)


@router.post("/signout")
async def signout(request: Request, seen: AnyViewer) -> Response:
    await checked_form(request, seen)
    # A new anonymous session (new id): the signed-out token is gone from the cookie.
    request.state.portal_viewer = (Session.anonymous(ttl=portal_of(request).settings.session_max_age_seconds), True)
    return redirect(request, "/portal/signin")
