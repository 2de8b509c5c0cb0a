"""Routes of the evidence log: verification, the point-in-time export, and the signing key's public half.

Verification and export are for auditors and admins and are computed by the compliance engine's own
functions (services/evidence.py), as `finplane evidence verify/export` compute them, anchored on the
heads the policies' status records. The public key is readable by any authenticated caller: it is
what an auditor checks the signatures of an exported log with.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from platform_api.deps import Cache, CurrentIdentity, Settings, State
from platform_api.routers.common import API_PREFIX, ERRORS
from platform_api.routers.compliance import AUDITORS, Q
from platform_api.schemas import EvidenceBundle, EvidencePublicKey, EvidenceVerification
from platform_api.services import evidence as ev

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX + "/compliance/evidence", tags=["compliance"], responses=ERRORS)

_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
              "description": "The bundle as JSON, or one of its CSV parts (first line: the chain head)."}}


@router.get("/export", response_model=EvidenceBundle, responses=_CSV, dependencies=AUDITORS,
            summary="Point-in-time evidence bundle")
async def evidence_export(identity: CurrentIdentity, settings: Settings, cache: Cache, state: State,
                          from_: Annotated[str, Query(alias="from", min_length=1, max_length=64,
                                                      description="Start, ISO 8601 (a date is its midnight UTC).")],
                          to: Annotated[str, Query(min_length=1, max_length=64,
                                                   description="End, ISO 8601: the state reported is the state then.")],
                          team: Q = None, format: Annotated[Literal["json", "csv"], Query()] = "json",
                          part: Annotated[Literal["entries", "state"], Query(
                              description="For CSV: the entries in the range, or the state at `to`.")] = "entries",
                          ) -> Any:
    bundle = await ev.export(identity=identity, evidence_dir=settings.evidence_dir, from_=from_, to=to, team=team,
                             cache=cache, signer=state.audit.signer)
    if format == "csv":
        return PlainTextResponse(ev.export_csv(bundle, part=part), media_type="text/csv",
                                 headers={"X-Finplane-Chain-Head": bundle["chainHead"],
                                          "Content-Disposition": f'attachment; filename="evidence-{part}.csv"'})
    return JSONResponse(bundle, headers={"X-Finplane-Chain-Head": bundle["chainHead"]})


@router.get("/verify", response_model=EvidenceVerification, dependencies=AUDITORS,
            summary="Result of the evidence chain verification")
async def evidence_verify(identity: CurrentIdentity, settings: Settings, cache: Cache, state: State) -> Any:
    return await ev.verify(identity=identity, evidence_dir=settings.evidence_dir, cache=cache,
                           signer=state.audit.signer)


@router.get("/public-key", response_model=EvidencePublicKey, summary="The public key evidence entries are signed with")
async def evidence_public_key(identity: CurrentIdentity, settings: Settings, state: State) -> Any:
    return ev.public_key(evidence_dir=settings.evidence_dir, signer=state.audit.signer)
