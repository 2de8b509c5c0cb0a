"""Evidence and preview for auditors and admins, through the compliance engine's own functions.

Called by routers/compliance.py. The evidence log is the operator's (``FINPLANE_EVIDENCE_DIR``,
file ``evidence.jsonl``): verification and the export bundle are computed by
``finplane.policy.evidence`` / ``finplane.policy.evidence_bundle`` exactly as ``finplane evidence
verify/export`` compute them, and the preview by ``finplane.policy.preview.summary`` over the
API's cache, as ``finplane compliance preview`` does over the cluster. Nothing here writes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from finplane.policy.evidence import GENESIS, verify_log
from finplane.policy.evidence_bundle import bundle_csv, load_bundle, parse_range
from finplane.policy.evidence_cli import LOG_NAME
from finplane.policy.preview import summary
from platform_api.auth.identity import Identity, Role
from platform_api.authz import not_found, require_role
from platform_api.cache import CAPABILITY, CHANNEL, POLICY, ReadCache
from platform_api.problems import Problem

__all__ = ["evidence_log", "export", "export_csv", "preview", "verify"]

Obj = dict[str, Any]


def evidence_log(evidence_dir: Path | None) -> Path:
    """The log file, or 503 when the API was configured without an evidence folder."""
    if evidence_dir is None:
        raise Problem(503, "The API is not configured with the evidence folder (FINPLANE_EVIDENCE_DIR).",
                      slug="not-configured", reason="EvidenceNotConfigured")
    return evidence_dir / LOG_NAME


async def preview(*, identity: Identity, cache: ReadCache, name: str) -> Obj:
    """What switching policy `name` to enforce would refuse, from the cached capabilities and channels."""
    require_role(identity, Role.AUDITOR, Role.ADMIN)
    policy = cache.get(POLICY, name)
    if policy is None:
        raise not_found("CompliancePolicy", name)
    # Rendering every capability is CPU work proportional to the catalog: off the event loop.
    return await asyncio.to_thread(summary, policy, cache.list(CAPABILITY), cache.list(CHANNEL))


async def verify(*, identity: Identity, evidence_dir: Path | None) -> Obj:
    require_role(identity, Role.AUDITOR, Role.ADMIN)
    log = evidence_log(evidence_dir)
    if not log.exists():
        return {"present": False, "ok": True, "entries": 0, "head": GENESIS, "badLine": None, "reason": ""}
    v = await asyncio.to_thread(verify_log, log)  # a long log takes a while to hash: off the event loop
    return {"present": True, "ok": v.ok, "entries": v.entries, "head": v.head, "badLine": v.bad_line,
            "reason": v.reason}


async def export(*, identity: Identity, evidence_dir: Path | None, from_: str, to: str,
                 team: str | None) -> Obj:
    """The point-in-time bundle (JSON-ready), as `finplane evidence export` writes it to bundle.json."""
    require_role(identity, Role.AUDITOR, Role.ADMIN)
    log = evidence_log(evidence_dir)
    try:
        start, end = parse_range(from_, to)
    except ValueError as exc:
        raise Problem(422, f"from/to must be ISO 8601 times or dates, from before to: {exc}", slug="validation",
                      reason="ValidationFailed",
                      errors=[{"field": "from", "message": str(exc)}]) from None
    return await asyncio.to_thread(load_bundle, log, start=start, end=end, team=team)


def export_csv(bundle: Obj, *, part: str) -> str:
    """One CSV of the bundle (``entries`` or ``state``), its first line naming the chain head."""
    rows = bundle["stateAtTo"] if part == "state" else bundle["entries"]
    return bundle_csv(rows, bundle["chainHead"])
