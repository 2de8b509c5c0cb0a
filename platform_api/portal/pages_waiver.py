"""The waiver request form of the capability page: a team member asks to waive one rule over this capability.

Route of :data:`router`, included by :func:`platform_api.portal.install`. The capability is read through
the capability service first (another team's capability answers 404, as its page does), the form is
checked like every portal form (origin and CSRF token), parsed by the API's own
:class:`~platform_api.schemas.WaiverCreate` and handed to
:func:`platform_api.services.waivers.request_waiver`, which decides (roles, scope, duration, pending limit).
The request then waits for an admin who did not ask for it, on the compliance page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from platform_api.audit import note
from platform_api.auth.identity import Role
from platform_api.authz import require_role
from platform_api.portal.web import (
    PortalRoute,
    Viewer,
    cache_of,
    checked_form,
    redirect,
    signed_in,
    writer_of,
)
from platform_api.problems import Problem
from platform_api.schemas import NAME_PATTERN, WaiverCreate
from platform_api.services import capabilities as svc
from platform_api.services import waivers as wsvc

__all__ = ["router"]

router = APIRouter(prefix="/portal/capabilities", route_class=PortalRoute, include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(signed_in)]
Label = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]
FIELDS = ("policy", "rule", "justification", "risk", "ticket", "expiresAt")


@router.post("/{team}/{name}/waiver")
async def request_waiver(request: Request, seen: SignedIn, team: Label, name: Label) -> Response:
    form = await checked_form(request, seen)
    state, identity = request.app.state.finplane, seen.identity
    assert identity is not None
    note(request, action="request-waiver", kind="CompliancePolicy", name=form.get("policy", ""), rule=form.get("rule"))
    require_role(identity, Role.TEAM, Role.ADMIN)
    cache = cache_of(request)
    obj = svc.get(identity=identity, cache=cache, settings=state.settings, team=team, name=name)
    meta = obj["metadata"]
    try:
        body = WaiverCreate.model_validate({
            **{k: form.get(k, "").strip() for k in FIELDS},
            "resources": [{"kind": "BusinessCapability", "namespace": meta.get("namespace"), "name": meta["name"]}]})
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg"))}
                  for e in exc.errors()]
        raise Problem(422, "The waiver request is not valid; see errors.", slug="validation",
                      reason="ValidationFailed", errors=errors) from None
    await wsvc.request_waiver(identity=identity, cache=cache, writer=writer_of(request), settings=state.settings,
                              body=body.model_dump(mode="json", exclude_none=True))
    return redirect(request, "/portal/compliance")
