"""The sandbox pages: a partner sees its own sandboxes, their expiry counting down, requests one or an
extension and receives its credential exactly once; an admin reviews the exact request and approves or
rejects it (four-eyes: never the requester nor the amender).

Routes of :data:`router`, included by :func:`platform_api.portal.install`. Every read and decision is
:mod:`platform_api.services.sandboxes`' (and :mod:`~platform_api.services.sandbox_extensions`'): decisions
carry the review tag the admin saw as their If-Match, so a request changed meanwhile is a 412, not an
approval of something else. Showing a sandbox never hands out its credential: that is a POST (it changes
the sandbox: the credential is marked shown), answered with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from platform_api.audit import note
from platform_api.auth.identity import Identity, Role, same_subject
from platform_api.portal.web import (
    PortalRoute,
    Viewer,
    cache_of,
    checked_form,
    page,
    redirect,
    signed_in,
    writer_of,
)
from platform_api.problems import Problem
from platform_api.schemas import NAME_PATTERN
from platform_api.services import sandbox_extensions as ext
from platform_api.services import sandboxes as svc

__all__ = ["router"]

router = APIRouter(prefix="/portal/sandboxes", route_class=PortalRoute, include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(signed_in)]
Name = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]
Obj = dict[str, Any]
_DAY = 86400


def _may_decide(identity: Identity, sbx: Obj) -> bool:
    """Drawn for admins who neither requested nor amended it (the service checks the same on the POST)."""
    return identity.role is Role.ADMIN and not any(
        same_subject(identity, s) for s in (sbx.get("requestedBy"), sbx.get("amendedBy")) if s)


def _view(request: Request, seen: Viewer, name: str, *, credential: str | None = None,
          problem: Problem | None = None, status: int = 200) -> Response:
    identity = seen.identity
    assert identity is not None
    obj = svc.get(identity=identity, cache=cache_of(request), name=name)
    sbx = svc.public(obj, credential_value=credential)
    ask = sbx.get("extensionRequest") or None
    named = identity.role is Role.PARTNER and sbx["partner"] == identity.partner
    response = page(request, "sandbox.html", seen, status=status, sbx=sbx, problem=problem,
                    spec_yaml=yaml.safe_dump(sbx["spec"], sort_keys=False),
                    may_decide=sbx["approval"] == "pending" and _may_decide(identity, sbx),
                    is_requester=same_subject(identity, sbx.get("requestedBy")),
                    may_take_credential=named and sbx["credential"] is not None and not sbx["credential"]["shown"],
                    may_extend=sbx["approval"] == "approved" and ask is None and identity.role is not Role.AUDITOR,
                    may_decide_extension=ask is not None and identity.role is Role.ADMIN
                    and not same_subject(identity, (ask or {}).get("requestedBy")),
                    credential=credential)
    if credential is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("")
async def sandbox_list(request: Request, seen: SignedIn) -> Response:
    identity = seen.identity
    assert identity is not None
    items = sorted((svc.public(o) for o in svc.list_visible(identity=identity, cache=cache_of(request))),
                   key=lambda s: (s["approval"] != "pending", s["name"]))
    return page(request, "sandboxes.html", seen, items=items, problem=None, form={},
                may_request=identity.role in (Role.PARTNER, Role.TEAM, Role.ADMIN))


@router.post("")
async def request_sandbox(request: Request, seen: SignedIn) -> Response:
    form = await checked_form(request, seen)
    identity = seen.identity
    assert identity is not None
    partner = identity.partner if identity.role is Role.PARTNER else form.get("partner", "").strip()
    name = f"{partner}--{form.get('name', '').strip()}"
    note(request, action="request", kind="TenantSandbox", name=name)
    try:
        days = int(form.get("days", "") or "0")
    except ValueError:
        days = 0
    spec = {"partner": {"name": partner, "organisation": form.get("organisation", "").strip(),
                        "contact": form.get("contact", "").strip()},
            "tier": form.get("tier", "small"), "ttlSeconds": days * _DAY}
    try:
        if days < 1:
            raise Problem(422, "The lifetime must be at least one day.", slug="validation", reason="ValidationFailed",
                          errors=[{"field": "days", "message": "a whole number of days, at least 1"}])
        await svc.request(identity=identity, cache=cache_of(request), writer=writer_of(request),
                          settings=request.app.state.finplane.settings, name=name, spec=spec,
                          terms_accepted=form.get("terms") == "yes")
    except Problem as exc:
        if exc.status not in (409, 422):
            raise
        items = [svc.public(o) for o in svc.list_visible(identity=identity, cache=cache_of(request))]
        return page(request, "sandboxes.html", seen, status=exc.status, items=items, problem=exc, form=form,
                    may_request=True)
    return redirect(request, f"/portal/sandboxes/{name}")


@router.get("/{name}")
async def sandbox_page(request: Request, seen: SignedIn, name: Name) -> Response:
    return _view(request, seen, name)


@router.post("/{name}/credential")
async def take_credential(request: Request, seen: SignedIn, name: Name) -> Response:
    await checked_form(request, seen)
    identity = seen.identity
    assert identity is not None
    result = await svc.read_with_credential(identity=identity, cache=cache_of(request), writer=writer_of(request),
                                            name=name)
    value = (result.get("credential") or {}).get("value")
    if value:
        note(request, action="receive-credential", kind="TenantSandbox", name=name)
        return _view(request, seen, name, credential=value)
    return _view(request, seen, name, status=409, problem=Problem(
        409, "The credential was handed out already; rotate it to receive a new one.", reason="CredentialShown"))


async def _decide(request: Request, seen: Viewer, name: str, action: str) -> Response:
    form = await checked_form(request, seen)
    identity, cache, writer = seen.identity, cache_of(request), writer_of(request)
    assert identity is not None
    note(request, action=action, kind="TenantSandbox", name=name)
    tag = form.get("etag") or None
    settings = request.app.state.finplane.settings
    if action in ("approve", "reject"):
        await svc.approve(identity=identity, cache=cache, writer=writer, name=name, approved=action == "approve",
                          comment=form.get("comment") or None, if_match=tag)
    elif action == "approve-extension":
        await ext.approve_extension(identity=identity, cache=cache, writer=writer, settings=settings, name=name,
                                    if_match=tag)
    else:
        await ext.reject_extension(identity=identity, cache=cache, writer=writer, name=name, if_match=tag)
    return redirect(request, f"/portal/sandboxes/{name}")


@router.post("/{name}/approve")
async def approve(request: Request, seen: SignedIn, name: Name) -> Response:
    return await _decide(request, seen, name, "approve")


@router.post("/{name}/reject")
async def reject(request: Request, seen: SignedIn, name: Name) -> Response:
    return await _decide(request, seen, name, "reject")


@router.post("/{name}/extension/approve")
async def approve_extension(request: Request, seen: SignedIn, name: Name) -> Response:
    return await _decide(request, seen, name, "approve-extension")


@router.post("/{name}/extension/reject")
async def reject_extension(request: Request, seen: SignedIn, name: Name) -> Response:
    return await _decide(request, seen, name, "reject-extension")


@router.post("/{name}/extension")
async def request_extension(request: Request, seen: SignedIn, name: Name) -> Response:
    form = await checked_form(request, seen)
    identity = seen.identity
    assert identity is not None
    note(request, action="request-extension", kind="TenantSandbox", name=name)
    try:
        if not form.get("reason", "").strip():
            raise Problem(422, "Say why the sandbox needs longer.", slug="validation", reason="ValidationFailed",
                          errors=[{"field": "reason", "message": "must not be empty"}])
        await ext.extend(identity=identity, cache=cache_of(request), writer=writer_of(request),
                         settings=request.app.state.finplane.settings, name=name,
                         expires_at=form.get("expiresAt", "").strip(), reason=form.get("reason", "").strip())
    except Problem as exc:
        if exc.status not in (409, 422):
            raise
        return _view(request, seen, name, status=exc.status, problem=exc)
    return redirect(request, f"/portal/sandboxes/{name}")
