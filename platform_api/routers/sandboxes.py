"""Routes of partner sandboxes: request, amend, approve/reject (bound to the reviewed ETag), read (credential
once, to the named partner only), extension (request, withdraw, approve, reject), promotion to production
(request, approve, reject, revoke), usage (from Prometheus), rotate, delete."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from platform_api.audit import note
from platform_api.deps import Cache, CurrentIdentity, Gateway, Settings
from platform_api.pagination import paginate
from platform_api.routers.common import API_PREFIX, ERRORS, Cursor, IfMatch, Limit, page_limit
from platform_api.schemas import (
    NAME_PATTERN,
    ExtensionRequest,
    Page,
    PromotionRequest,
    SandboxCreate,
    SandboxDecision,
    SandboxPublic,
    SandboxUpdate,
)
from platform_api.services import sandbox_extensions as ext
from platform_api.services import sandbox_promotion as promo
from platform_api.services import sandbox_usage as usage_svc
from platform_api.services import sandboxes as svc

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX + "/sandboxes", tags=["sandboxes"], responses={**ERRORS, 409: ERRORS[400]})
Name = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]
#: Decisions answer 428 without If-Match and 412 when the reviewed version changed.
PRECONDITIONS: dict[int | str, dict[str, Any]] = {412: ERRORS[400], 428: ERRORS[400]}


def _answer(response: Response, obj: dict[str, Any]) -> Any:
    """The public view, with the review tag as the ETag (what an admin sends back as If-Match)."""
    response.headers["ETag"] = svc.review_tag(obj)
    return svc.public(obj)


@router.get("", response_model=Page[SandboxPublic], summary="The sandboxes the caller may see")
async def list_sandboxes(identity: CurrentIdentity, cache: Cache, settings: Settings, limit: Limit = None,
                         cursor: Cursor = None, partner: Annotated[str | None, Query(max_length=63)] = None,
                         approval: Annotated[str | None, Query(max_length=16)] = None,
                         phase: Annotated[str | None, Query(max_length=32)] = None) -> Any:
    items = [svc.public(o) for o in svc.list_visible(identity=identity, cache=cache)]
    items = [i for i in items if (partner is None or i["partner"] == partner)
             and (approval is None or i["approval"] == approval) and (phase is None or i["phase"] == phase)]
    page = paginate(items, key=lambda i: ("", i["name"]), cursor=cursor,
                    limit=page_limit(limit, default=settings.default_page_size, maximum=settings.max_page_size))
    return {"items": list(page), "nextCursor": page.next_cursor}


@router.post("", response_model=SandboxPublic, status_code=201,
             summary="Request a sandbox named <partner>--<name> (provisioned after approval)")
async def request_sandbox(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                          writer: Gateway, settings: Settings, body: SandboxCreate) -> Any:
    note(request, action="request", kind="TenantSandbox", name=body.name)
    created = await svc.request(identity=identity, cache=cache, writer=writer, settings=settings, name=body.name,
                                spec=body.spec, terms_accepted=body.termsAccepted)
    response.headers["Location"] = f"{request.url.path}/{body.name}"
    return _answer(response, created)


@router.get("/{name}", response_model=SandboxPublic,
            summary="One sandbox; the partner it names receives the API credential in its first read after provisioning, "
                    "and its production key in its first read after a promotion's approval")
async def get_sandbox(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                      writer: Gateway, name: Name) -> Any:
    result = await svc.read_with_credential(identity=identity, cache=cache, writer=writer, name=name)
    sandbox_key = bool((result.get("credential") or {}).get("value"))
    production_key = bool(((result.get("promotion") or {}).get("productionCredential") or {}).get("value"))
    if sandbox_key or production_key:
        # Handing out a key is an event worth auditing, though it is a read: audit log and evidence chain.
        note(request, action="receive-credential" if sandbox_key else "receive-production-key", kind="TenantSandbox",
             name=name)
        audit = request.app.state.finplane.audit
        await asyncio.to_thread(audit.chain, audit.record(request=request, status=200, identity=identity))
        response.headers["Cache-Control"] = "no-store"
    response.headers["ETag"] = result["etag"]
    return result


@router.put("/{name}", response_model=SandboxPublic, responses=PRECONDITIONS,
            summary="Amend a pending request's spec, platform-only fields included (admin, If-Match)")
async def amend_sandbox(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                        writer: Gateway, settings: Settings, name: Name, body: SandboxUpdate,
                        if_match: IfMatch = None) -> Any:
    note(request, action="amend", kind="TenantSandbox", name=name)
    obj = await svc.amend(identity=identity, cache=cache, writer=writer, settings=settings, name=name,
                          spec=body.spec, if_match=if_match)
    return _answer(response, obj)


async def _decide(request: Request, response: Response, identity: Any, cache: Any, writer: Any, name: str,
                  approved: bool, body: SandboxDecision | None, if_match: str | None) -> Any:
    note(request, action="approve" if approved else "reject", kind="TenantSandbox", name=name)
    obj = await svc.approve(identity=identity, cache=cache, writer=writer, name=name, approved=approved,
                            comment=body.comment if body else None, if_match=if_match)
    return _answer(response, obj)


@router.post("/{name}/approve", response_model=SandboxPublic, responses=PRECONDITIONS,
             summary="Approve the request as reviewed (admin, not the requester; If-Match)")
async def approve_sandbox(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                          writer: Gateway, name: Name, body: SandboxDecision | None = None,
                          if_match: IfMatch = None) -> Any:
    return await _decide(request, response, identity, cache, writer, name, True, body, if_match)


@router.post("/{name}/reject", response_model=SandboxPublic, responses=PRECONDITIONS,
             summary="Reject the request as reviewed (admin, not the requester; If-Match)")
async def reject_sandbox(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                         writer: Gateway, name: Name, body: SandboxDecision | None = None,
                         if_match: IfMatch = None) -> Any:
    return await _decide(request, response, identity, cache, writer, name, False, body, if_match)


@router.post("/{name}/extension", response_model=SandboxPublic, status_code=202,
             summary="Request a later expiry (one pending request at a time, within the platform's maximum)")
async def request_extension(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                            writer: Gateway, settings: Settings, name: Name, body: ExtensionRequest) -> Any:
    note(request, action="request-extension", kind="TenantSandbox", name=name)
    obj = await ext.extend(identity=identity, cache=cache, writer=writer, settings=settings, name=name,
                           expires_at=body.expiresAt, reason=body.reason)
    return _answer(response, obj)


@router.delete("/{name}/extension", response_model=SandboxPublic,
               summary="Withdraw the pending extension request (its requester)")
async def withdraw_extension(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                             writer: Gateway, name: Name) -> Any:
    note(request, action="withdraw-extension", kind="TenantSandbox", name=name)
    obj = await ext.withdraw_extension(identity=identity, cache=cache, writer=writer, name=name)
    return _answer(response, obj)


@router.post("/{name}/extension/approve", response_model=SandboxPublic, responses=PRECONDITIONS,
             summary="Approve the pending extension as reviewed (admin, not the requester; If-Match)")
async def approve_extension(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                            writer: Gateway, settings: Settings, name: Name, if_match: IfMatch = None) -> Any:
    note(request, action="approve-extension", kind="TenantSandbox", name=name)
    obj = await ext.approve_extension(identity=identity, cache=cache, writer=writer, settings=settings, name=name,
                                      if_match=if_match)
    return _answer(response, obj)


@router.post("/{name}/extension/reject", response_model=SandboxPublic, responses=PRECONDITIONS,
             summary="Reject the pending extension as reviewed (admin; If-Match)")
async def reject_extension(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                           writer: Gateway, name: Name, if_match: IfMatch = None) -> Any:
    note(request, action="reject-extension", kind="TenantSandbox", name=name)
    obj = await ext.reject_extension(identity=identity, cache=cache, writer=writer, name=name, if_match=if_match)
    return _answer(response, obj)


@router.post("/{name}/promotion", response_model=SandboxPublic, status_code=202,
             summary="Request production access for some of the sandbox's capabilities (its partner or an admin)")
async def request_promotion(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                            writer: Gateway, settings: Settings, name: Name, body: PromotionRequest) -> Any:
    note(request, action="request-promotion", kind="TenantSandbox", name=name)
    obj = await promo.request(identity=identity, cache=cache, writer=writer, settings=settings, name=name,
                              capabilities=body.capabilities, tier=body.tier)
    return _answer(response, obj)


@router.post("/{name}/promotion/approve", response_model=SandboxPublic, responses=PRECONDITIONS,
             summary="Approve the promotion as reviewed (admin, not the requester; If-Match)")
async def approve_promotion(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                            writer: Gateway, name: Name, if_match: IfMatch = None) -> Any:
    note(request, action="approve-promotion", kind="TenantSandbox", name=name)
    obj = await promo.decide(identity=identity, cache=cache, writer=writer, name=name, approved=True,
                             if_match=if_match)
    return _answer(response, obj)


@router.post("/{name}/promotion/reject", response_model=SandboxPublic, responses=PRECONDITIONS,
             summary="Reject the promotion as reviewed (admin, not the requester; If-Match)")
async def reject_promotion(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                           writer: Gateway, name: Name, if_match: IfMatch = None) -> Any:
    note(request, action="reject-promotion", kind="TenantSandbox", name=name)
    obj = await promo.decide(identity=identity, cache=cache, writer=writer, name=name, approved=False,
                             if_match=if_match)
    return _answer(response, obj)


@router.post("/{name}/promotion/revoke", response_model=SandboxPublic,
             summary="Revoke production access (admin); the production key leaves the routes in one channel pass")
async def revoke_promotion(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                           writer: Gateway, name: Name) -> Any:
    note(request, action="revoke-promotion", kind="TenantSandbox", name=name)
    obj = await promo.revoke(identity=identity, cache=cache, writer=writer, name=name)
    return _answer(response, obj)


@router.get("/{name}/usage", responses={503: ERRORS[400]},
            summary="The sandbox's API usage: calls per second and over the rolling 30 days (from Prometheus)")
async def sandbox_usage(identity: CurrentIdentity, cache: Cache, settings: Settings, name: Name) -> Any:
    return await usage_svc.usage(identity=identity, cache=cache, settings=settings, name=name)


@router.post("/{name}/rotation", response_model=SandboxPublic, status_code=202,
             summary="Rotate the API credential (the new one is shown once)")
async def rotate_credential(request: Request, response: Response, identity: CurrentIdentity, cache: Cache,
                            writer: Gateway, name: Name) -> Any:
    note(request, action="rotate-credential", kind="TenantSandbox", name=name)
    obj = await svc.rotate(identity=identity, cache=cache, writer=writer, name=name)
    return _answer(response, obj)


@router.delete("/{name}", status_code=204, summary="Delete a sandbox (admin)")
async def delete_sandbox(request: Request, identity: CurrentIdentity, cache: Cache, writer: Gateway,
                         name: Name) -> Response:
    note(request, action="delete", kind="TenantSandbox", name=name)
    await svc.delete(identity=identity, cache=cache, writer=writer, name=name)
    return Response(status_code=204)
