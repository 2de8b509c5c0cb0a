"""Heads recorded outside the evidence log (anchors), read from where they are kept.

Pure apart from reading a file. Three sources: the policies' `status.evidence.headHash` (written by
the compliance reconciler; read from the cluster by `finplane evidence verify --kubeconfig` and from
the API's cache by `GET /api/v1/evidence/verify`), a file an auditor kept (`bundle.json` or
`assessment-results.json` of an earlier export, or an entry shipped to S3), and a hash given by hand.
Each becomes an `Anchor` that `verify_log` requires the log to reach.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from finplane.policy.evidence_chain import GENESIS
from finplane.policy.evidence_oscal import anchor_props
from finplane.policy.evidence_record import LOG_NAME, SHARED
from finplane.policy.evidence_verify import Anchor

__all__ = ["anchor_from_document", "anchor_from_file", "anchors_from_document", "anchors_from_file",
           "anchors_from_policies"]


def anchors_from_policies(policies: Iterable[dict[str, Any]]) -> list[Anchor]:
    """One anchor per policy whose status records a head (the genesis hash records nothing)."""
    out = []
    for p in policies:
        head = ((p.get("status") or {}).get("evidence") or {}).get("headHash")
        if isinstance(head, str) and head and head != GENESIS:
            out.append(Anchor(f"the status of CompliancePolicy {p.get('metadata', {}).get('name')}", head))
    return out


def anchor_from_document(doc: dict[str, Any], *, source: str) -> Anchor:
    """The signed head in an export's bundle.json, its assessment-results.json, or an entry itself."""
    head: Any = doc.get("signedHead") if "signedHead" in doc else None
    if head is None and "assessment-results" in doc:
        head = anchor_props(doc)
    if head is None and "hash" in doc and "sig" in doc:
        head = doc  # an evidence entry (an S3 copy) or a signed head on its own
    if not isinstance(head, dict) or not isinstance(head.get("hash"), str):
        raise ValueError(f"{source}: no signed head in it (expected an export's bundle.json or "
                         "assessment-results.json, or an evidence entry)")
    return _signed(head, source, str(head["chain"]) if head.get("chain") else None)


def _signed(head: dict[str, Any], source: str, chain: str | None) -> Anchor:
    seq = head.get("seq")
    return Anchor(source, str(head["hash"]), int(seq) if seq is not None else None,
                  str(head["kid"]) if head.get("kid") else None, str(head["sig"]) if head.get("sig") else None, chain)


def anchors_from_document(doc: dict[str, Any], *, source: str) -> list[Anchor]:
    """Every signed head in `doc`: one per chain of a record export (`signedHeads`), else `anchor_from_document`."""
    heads = doc.get("signedHeads")
    if isinstance(heads, dict) and heads:
        return [_signed(h, f"{source} (chain {label})", SHARED if label == LOG_NAME else label)
                for label, h in sorted(heads.items()) if isinstance(h, dict) and isinstance(h.get("hash"), str)]
    return [anchor_from_document(doc, source=source)]


def anchors_from_file(path: Path) -> list[Anchor]:
    """The signed heads in an export's bundle.json or assessment-results.json, or an entry (an S3 copy)."""
    return anchors_from_document(_load(path), source=str(path))


def anchor_from_file(path: Path) -> Anchor:
    return anchor_from_document(_load(path), source=str(path))


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a JSON object")
    return doc
