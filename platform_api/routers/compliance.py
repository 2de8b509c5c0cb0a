"""Routes of compliance: policies, results, waivers (request, four-eyes approval, reject, withdraw), preview.

The preview is for auditors and admins and is computed by the compliance engine's own functions
(services/evidence.py), as the `finplane` command does; the evidence routes are in routers/evidence.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from platform_api.audit import note
from platform_api.auth.identity import Role
from platform_api.authz import require_role
from platform_api.deps import Cache, CurrentIdentity, Gateway, Settings
from platform_api.pagination import obj_key, paginate
from platform_api.routers.common import API_PREFIX, ERRORS, Cursor, Limit, page_limit, set_etag
from platform_api.schemas import (
    Page,
    PolicyPublic,
    PreviewPublic,
    ResultPublic,
    WaiverCreate,
    WaiverPublic,
)
from platform_api.services import compliance as svc
from platform_api.services import evidence as ev
from platform_api.services import waivers as wsvc

__all__ = ["AUDITORS", "router"]

router = APIRouter(prefix=API_PREFIX + "/compliance", tags=["compliance"], responses=ERRORS)
Name = Annotated[str, Path(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)]
Q = Annotated[str | None, Query(max_length=128)]


@router.get("/policies", response_model=Page[PolicyPublic], summary="Compliance policies")
async def list_policies(identity: CurrentIdentity, cache: Cache, settings: Settings, limit: Limit = None,
                        cursor: Cursor = None) -> Any:
    page = paginate(svc.list_policies(identity=identity, cache=cache), key=obj_key, cursor=cursor,
                    limit=page_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size))
    return {"items": [svc.policy_public(o) for o in page], "nextCursor": page.next_cursor}


@router.get("/policies/{name}", response_model=PolicyPublic, summary="One compliance policy and its status")
async def get_policy(response: Response, identity: CurrentIdentity, cache: Cache, name: Name) -> Any:
    obj = svc.get_policy(identity=identity, cache=cache, name=name)
    set_etag(response, obj)
    return svc.policy_public(obj)


@router.get("/results", response_model=Page[ResultPublic], summary="Results by team, policy, rule, severity")
async def list_results(identity: CurrentIdentity, cache: Cache, settings: Settings, limit: Limit = None,
                       cursor: Cursor = None, team: Q = None, policy: Q = None, rule: Q = None, severity: Q = None,
                       result: Q = None) -> Any:
    found = svc.results(identity=identity, cache=cache, team=team, policy=policy, rule=rule, severity=severity,
                        result=result)

    def key(r: dict[str, Any]) -> tuple[str, ...]:
        res = (r["resources"] or [{}])[0]
        return (str(r["policy"]), str(r["rule"]), str(r["namespace"] or ""), str(res.get("kind", "")),
                str(res.get("name", "")))

    page = paginate(found, key=key, cursor=cursor,
                    limit=page_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size))
    return {"items": list(page), "nextCursor": page.next_cursor}


@router.get("/waivers", response_model=Page[WaiverPublic],
            summary="Waivers, pending and approved (a team: its requests and waivers over its objects)")
async def list_waivers(identity: CurrentIdentity, cache: Cache, settings: Settings, limit: Limit = None,
                       cursor: Cursor = None, state: Annotated[str | None, Query(max_length=16)] = None) -> Any:
    found = [w for w in wsvc.list_waivers(identity=identity, cache=cache, settings=settings)
             if state is None or w["state"] == state]
    page = paginate(found, key=lambda w: (w["policy"], w["id"]), cursor=cursor,
                    limit=page_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size))
    return {"items": list(page), "nextCursor": page.next_cursor}


@router.post("/waivers", response_model=WaiverPublic, status_code=201, responses={409: ERRORS[400]},
             summary="Request a waiver over the team's own objects (admins: any scope)")
async def request_waiver(request: Request, identity: CurrentIdentity, cache: Cache, writer: Gateway,
                         settings: Settings, body: WaiverCreate) -> Any:
    note(request, action="request-waiver", kind="CompliancePolicy", name=body.policy, rule=body.rule.value)
    return await wsvc.request_waiver(identity=identity, cache=cache, writer=writer, settings=settings,
                                     body=body.model_dump(mode="json", exclude_none=True))


WaiverId = Annotated[str, Path(pattern=r"^w-[a-f0-9]{8}$")]


@router.post("/policies/{name}/waivers/{waiver_id}/approve", response_model=WaiverPublic,
             responses={409: ERRORS[400]}, summary="Approve a waiver (admin, not the requester)")
async def approve_waiver(request: Request, identity: CurrentIdentity, cache: Cache, writer: Gateway,
                         settings: Settings, name: Name, waiver_id: WaiverId) -> Any:
    note(request, action="approve-waiver", kind="CompliancePolicy", name=name, waiver=waiver_id)
    return await wsvc.approve_waiver(identity=identity, cache=cache, writer=writer, settings=settings,
                                     policy_name=name, waiver_id=waiver_id)


@router.post("/policies/{name}/waivers/{waiver_id}/reject", response_model=WaiverPublic,
             responses={409: ERRORS[400]}, summary="Reject a pending waiver request (admin)")
async def reject_waiver(request: Request, identity: CurrentIdentity, cache: Cache, writer: Gateway,
                        settings: Settings, name: Name, waiver_id: WaiverId) -> Any:
    note(request, action="reject-waiver", kind="CompliancePolicy", name=name, waiver=waiver_id)
    return await wsvc.reject_waiver(identity=identity, cache=cache, writer=writer, settings=settings,
                                    policy_name=name, waiver_id=waiver_id)


@router.delete("/policies/{name}/waivers/{waiver_id}", response_model=WaiverPublic, responses={409: ERRORS[400]},
               summary="Withdraw a pending waiver request (its requester or the requesting team)")
async def withdraw_waiver(request: Request, identity: CurrentIdentity, cache: Cache, writer: Gateway,
                          settings: Settings, name: Name, waiver_id: WaiverId) -> Any:
    note(request, action="withdraw-waiver", kind="CompliancePolicy", name=name, waiver=waiver_id)
    return await wsvc.withdraw_waiver(identity=identity, cache=cache, writer=writer, settings=settings,
                                      policy_name=name, waiver_id=waiver_id)


async def _auditor_or_admin(identity: CurrentIdentity) -> None:
    """Checked before the query is validated, so other roles get 403 whatever they send."""
    require_role(identity, Role.AUDITOR, Role.ADMIN)


AUDITORS = [Depends(_auditor_or_admin)]


@router.get("/policies/{name}/preview", response_model=PreviewPublic, dependencies=AUDITORS,
            summary="What enforce mode would refuse (audit -> enforce preview)")
async def preview(identity: CurrentIdentity, cache: Cache, name: Name) -> Any:
    return await ev.preview(identity=identity, cache=cache, name=name)
