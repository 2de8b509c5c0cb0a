"""The compliance pages: results by policy, rule, team and classification; waivers (pending and approved,
with expiry; admins approve or reject pending ones, never their own); the enforce-mode preview; the
evidence chain's verification status and the export download.

Routes of :data:`router`, included by :func:`platform_api.portal.install`. Everything is computed by the
API's services (:mod:`~platform_api.services.compliance`, :mod:`~platform_api.services.waivers`,
:mod:`~platform_api.services.evidence`): a team sees results and waivers about its own objects, the
preview, verification and export are for auditors and admins.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from platform_api.audit import note
from platform_api.auth.identity import Role, same_subject
from platform_api.cache import CAPABILITY
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
from platform_api.services import compliance as svc
from platform_api.services import evidence as ev
from platform_api.services import waivers as wsvc

__all__ = ["router"]

router = APIRouter(prefix="/portal/compliance", route_class=PortalRoute, include_in_schema=False)
SignedIn = Annotated[Viewer, Depends(signed_in)]
Q = Annotated[str | None, Query(max_length=128)]
PolicyName = Annotated[str, Path(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)]
WaiverId = Annotated[str, Path(pattern=r"^w-[a-f0-9]{8}$")]


@router.get("")
async def compliance_page(request: Request, seen: SignedIn, policy: Q = None, rule: Q = None, team: Q = None,
                          classification: Q = None, result: Q = None) -> Response:
    identity, cache, settings = seen.identity, cache_of(request), request.app.state.finplane.settings
    assert identity is not None
    policies = [svc.policy_public(p) for p in sorted(svc.list_policies(identity=identity, cache=cache),
                                                     key=lambda p: str(p["metadata"]["name"]))]
    every = svc.results(identity=identity, cache=cache)
    classes = {(c["metadata"].get("namespace"), c["metadata"]["name"]):
               (c.get("spec") or {}).get("dataClassification", "internal") for c in cache.list(CAPABILITY)}
    for r in every:
        res = (r["resources"] or [{}])[0]
        r["classification"] = classes.get((r["namespace"], res.get("name")), "")
    shown = [r for r in every if (not policy or r["policy"] == policy) and (not rule or r["rule"] == rule)
             and (not team or r["team"] == team) and (not result or r["result"] == result)
             and (not classification or r["classification"] == classification)]
    waivers = wsvc.list_waivers(identity=identity, cache=cache, settings=settings)
    for w in waivers:
        w["may_decide"] = (w["state"] == "pending" and identity.role is Role.ADMIN
                           and not same_subject(identity, w["requestedBy"]))
    verification = None
    if identity.role in (Role.AUDITOR, Role.ADMIN):
        try:
            verification = await ev.verify(identity=identity, evidence_dir=settings.evidence_dir, cache=cache)
        except Problem as exc:
            verification = {"present": False, "ok": False, "reason": exc.detail, "entries": 0, "head": ""}
    today = datetime.now(UTC).date()
    options = {k: sorted({str(r[k]) for r in every if r.get(k)}) for k in
               ("policy", "rule", "team", "classification", "result")}
    return page(request, "compliance.html", seen, policies=policies, results=shown, total=len(every),
                waivers=waivers, verification=verification, options=options,
                filters={"policy": policy or "", "rule": rule or "", "team": team or "",
                         "classification": classification or "", "result": result or ""},
                export_from=(today - timedelta(days=30)).isoformat(), export_to=(today + timedelta(days=1)).isoformat(),
                auditor=identity.role in (Role.AUDITOR, Role.ADMIN))


@router.get("/policies/{name}/preview")
async def preview_page(request: Request, seen: SignedIn, name: PolicyName) -> Response:
    assert seen.identity is not None
    found = await ev.preview(identity=seen.identity, cache=cache_of(request), name=name)
    return page(request, "preview.html", seen, name=name, preview=yaml.safe_dump(found, sort_keys=False))


@router.get("/evidence/export")
async def export(request: Request, seen: SignedIn, from_: Annotated[str, Query(alias="from", max_length=64)],
                 to: Annotated[str, Query(max_length=64)], team: Q = None) -> Response:
    assert seen.identity is not None
    bundle = await ev.export(identity=seen.identity, evidence_dir=request.app.state.finplane.settings.evidence_dir,
                             from_=from_, to=to, team=team or None, cache=cache_of(request))
    return JSONResponse(bundle, headers={"X-Finplane-Chain-Head": bundle["chainHead"], "Cache-Control": "no-store",
                                         "Content-Disposition": 'attachment; filename="evidence-bundle.json"'})


async def _decide(request: Request, seen: Viewer, name: str, waiver_id: str, approve: bool) -> Response:
    await checked_form(request, seen)
    identity = seen.identity
    assert identity is not None
    note(request, action="approve-waiver" if approve else "reject-waiver", kind="CompliancePolicy", name=name,
         waiver=waiver_id)
    decide = wsvc.approve_waiver if approve else wsvc.reject_waiver
    await decide(identity=identity, cache=cache_of(request), writer=writer_of(request),
                 settings=request.app.state.finplane.settings, policy_name=name, waiver_id=waiver_id)
    return redirect(request, "/portal/compliance#waivers")


@router.post("/policies/{name}/waivers/{waiver_id}/approve")
async def approve_waiver(request: Request, seen: SignedIn, name: PolicyName, waiver_id: WaiverId) -> Response:
    return await _decide(request, seen, name, waiver_id, True)


@router.post("/policies/{name}/waivers/{waiver_id}/reject")
async def reject_waiver(request: Request, seen: SignedIn, name: PolicyName, waiver_id: WaiverId) -> Response:
    return await _decide(request, seen, name, waiver_id, False)
