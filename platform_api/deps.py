"""FastAPI dependencies and their ``Annotated`` aliases: the one place routes get their collaborators.

Used by every router: ``CurrentIdentity`` (authenticated, rate-limited caller), ``Cache`` (reads),
``Gateway`` (writes), ``Settings``. Authentication failures become 401 problems with a reason and
a ``WWW-Authenticate`` header (RFC 6750), each counted against the client address (the lockout
middleware answers 429 once an address has too many). Once the caller is known, the request's JSON
body is checked for control and format characters (:func:`platform_api.security.check_body_text`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from platform_api.auth.identity import Identity
from platform_api.auth.tokens import AuthError
from platform_api.cache import ReadCache
from platform_api.gitops import GitOwnedGuard
from platform_api.middleware import scope_client_key
from platform_api.problems import Problem
from platform_api.security import check_body_text
from platform_api.services import teams
from platform_api.settings import ApiSettings
from platform_api.state import AppState, Writer

__all__ = ["Cache", "CurrentIdentity", "Gateway", "Settings", "State", "app_state", "ready_cache"]

_bearer = HTTPBearer(auto_error=False, description="A JWT from the identity provider (or `finplane token`).")
# Every dependency is `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread
# hop per dependency per request for what is an attribute read (issue 19: the catalog's CPU per request).
# FastAPI also costs tens of microseconds per dependency in the graph of a route, whatever it does: a hot
# route takes `State` and reads the cache and settings from it (`ready_cache`) instead of three more.


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.finplane
    return state


State = Annotated[AppState, Depends(app_state)]


def _unauthorized(state: AppState, request: Request, reason: str, message: str,
                  headers: dict[str, str] | None = None) -> Problem:
    """The 401 for ``reason``, counted against the client address (which may lock it out)."""
    state.failures.record(scope_client_key(request.scope))
    if headers is None:
        safe = message.replace('"', "'")
        headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{safe}"'}
    return Problem(401, message, slug="unauthorized", reason=reason, headers=headers)


async def current_identity(request: Request,
                           creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Identity:
    """The verified caller; also charges its rate limit, tells the audit log who it is and checks the body's text."""
    state: AppState = request.app.state.finplane  # not a sub-dependency: FastAPI's cost is per dependency (issue 19)
    if creds is None:
        header = request.headers.get("authorization")
        if header:
            raise _unauthorized(state, request, "MalformedHeader", "the Authorization header must be 'Bearer <token>'")
        raise _unauthorized(state, request, "MissingToken", "a bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        identity = await state.verifier.verify(creds.credentials)
    except AuthError as exc:
        raise _unauthorized(state, request, exc.reason, exc.message) from None
    identity = teams.resolve(identity, state.cache, state.settings)  # IdP groups -> team and role (services.teams)
    request.scope["finplane.identity"] = identity
    state.limiter.check(identity.key)
    await check_body_text(request)
    return identity


async def _cache(state: State) -> ReadCache:
    return ready_cache(state)


def ready_cache(state: AppState) -> ReadCache:
    """The read cache, or a 503 problem while it has not synced (what the ``Cache`` dependency gives)."""
    if state.cache is None or not state.cache.ready:
        raise Problem(503, "The API's cache has not synced with the cluster yet; retry shortly.",
                      slug="not-ready", reason="CacheNotReady", headers={"Retry-After": "2"})
    return state.cache


async def _writer(state: State) -> Writer:
    if state.writer is None:
        raise Problem(503, "The API is not connected to the cluster.", slug="not-ready", reason="NotConnected")
    if state.settings.gitops_writes == "refuse":  # objects Git owns are changed in Git (platform_api.gitops)
        return GitOwnedGuard(state.writer, tracking_labels=state.settings.gitops_tracking_labels)
    return state.writer


async def _settings(state: State) -> ApiSettings:
    return state.settings


CurrentIdentity = Annotated[Identity, Depends(current_identity)]
Cache = Annotated[ReadCache, Depends(_cache)]
Gateway = Annotated[Writer, Depends(_writer)]
Settings = Annotated[ApiSettings, Depends(_settings)]
