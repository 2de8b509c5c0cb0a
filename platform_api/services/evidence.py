"""Evidence and preview for auditors and admins, through the compliance engine's own functions.

Called by routers/evidence.py and routers/compliance.py (preview). The evidence record is the folder
``FINPLANE_EVIDENCE_DIR`` every writer shares (the shared ``evidence.jsonl``, and with several replicas
one ``chains/<pod>.jsonl`` per operator and API pod): verification and the export bundle are computed by
``finplane.policy.evidence_merge`` (every chain, merged) or, for a lone shared file,
``finplane.policy.evidence_verify`` / ``finplane.policy.evidence_bundle``, exactly as ``finplane evidence
verify/export`` compute them, anchored on the heads the policies' status records (from the API's
cache, as ``--kubeconfig`` reads them from the cluster); the public key is the evidence signing key's.
The preview is ``finplane.policy.preview.summary`` over the API's cache, as ``finplane compliance
preview`` does over the cluster. Nothing here writes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from finplane.policy.evidence import GENESIS, LOG_NAME, verify_log
from finplane.policy.evidence_anchors import anchors_from_policies
from finplane.policy.evidence_bundle import bundle_csv, load_bundle, parse_range
from finplane.policy.evidence_keys import Signer, TrustedKeys, default_key_file, load_public_key, public_pem
from finplane.policy.evidence_merge import load_record_bundle, verify_record
from finplane.policy.evidence_record import CHAINS, chain_files
from finplane.policy.preview import summary
from platform_api.auth.identity import Identity, Role
from platform_api.authz import not_found, require_role
from platform_api.cache import CAPABILITY, CHANNEL, POLICY, ReadCache
from platform_api.problems import Problem

__all__ = ["evidence_log", "export", "export_csv", "preview", "public_key", "verify"]

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


async def verify(*, identity: Identity, evidence_dir: Path | None, cache: ReadCache | None = None,
                 signer: Signer | None = None) -> Obj:
    require_role(identity, Role.AUDITOR, Role.ADMIN)
    log = evidence_log(evidence_dir)
    if not chain_files(log.parent):
        return {"present": False, "ok": False, "entries": 0, "head": GENESIS, "badLine": None,
                "reason": "no evidence log", "anchors": [], "notes": []}
    anchors = anchors_from_policies(cache.list(POLICY)) if cache is not None else []
    if _has_chains(log.parent):
        rv = await asyncio.to_thread(verify_record, log.parent, keys=_keys(signer), anchors=anchors)  # off the loop
        return {"present": True, "ok": rv.ok, "entries": len(rv.entries), "head": rv.head, "badLine": None,
                "reason": "; ".join(rv.problems), "anchors": list(rv.anchors), "notes": list(rv.notes)}
    v = await asyncio.to_thread(verify_log, log, keys=_keys(signer), anchors=anchors)  # long: off the event loop
    return {"present": True, "ok": v.ok, "entries": v.entries, "head": v.head, "badLine": v.bad_line,
            "reason": v.reason, "anchors": list(v.anchors), "notes": list(v.notes)}


def _keys(signer: Signer | None) -> TrustedKeys | None:
    """The key of the shared Secret this API signs with; None: the key files beside the log."""
    return signer.trusted() if signer is not None else None


def public_key(*, evidence_dir: Path | None, signer: Signer | None = None) -> Obj:
    """The evidence signing key's public half (PEM) and id; 404 before anything was signed."""
    if signer is not None:  # the shared Secret's key, which every writer of the release signs with
        return {"kid": signer.kid, "algorithm": "Ed25519", "pem": public_pem(signer.public)}
    key = default_key_file(evidence_log(evidence_dir))
    for path in (key, key.with_suffix(".pub")):  # the key the entries are signed with, first
        if path.exists():
            kid, pub = next(iter(load_public_key(path).keys.items()))
            return {"kid": kid, "algorithm": "Ed25519", "pem": public_pem(pub)}
    raise Problem(404, "No evidence signing key yet: it is generated when the first entry is signed.",
                  slug="not-found", reason="NoEvidenceKey")


async def export(*, identity: Identity, evidence_dir: Path | None, from_: str, to: str,
                 team: str | None, cache: ReadCache | None = None, signer: Signer | None = None) -> Obj:
    """The point-in-time bundle (JSON-ready), as `finplane evidence export` writes it to bundle.json."""
    require_role(identity, Role.AUDITOR, Role.ADMIN)
    log = evidence_log(evidence_dir)
    try:
        start, end = parse_range(from_, to)
    except ValueError as exc:
        raise Problem(422, f"from/to must be ISO 8601 times or dates, from before to: {exc}", slug="validation",
                      reason="ValidationFailed",
                      errors=[{"field": "from", "message": str(exc)}]) from None
    if not chain_files(log.parent):
        raise Problem(404, "There is no evidence log to export (nothing recorded, or the log was removed).",
                      slug="not-found", reason="NoEvidenceLog")
    anchors = anchors_from_policies(cache.list(POLICY)) if cache is not None else []
    if _has_chains(log.parent):
        return await asyncio.to_thread(load_record_bundle, log.parent, start=start, end=end, team=team,
                                       keys=_keys(signer), anchors=anchors)
    return await asyncio.to_thread(load_bundle, log, start=start, end=end, team=team, keys=_keys(signer),
                                   anchors=anchors)


def _has_chains(directory: Path) -> bool:
    """Does the record hold writers' own chains (several replicas), not only the shared file?"""
    return (directory / CHAINS).is_dir() and any((directory / CHAINS).glob("*.jsonl"))


def export_csv(bundle: Obj, *, part: str) -> str:
    """One CSV of the bundle (``entries`` or ``state``), its first line naming the chain head."""
    rows = bundle["stateAtTo"] if part == "state" else bundle["entries"]
    return bundle_csv(rows, bundle["chainHead"])
