"""Verify a whole evidence record (every writer's chain) and merge it into one deterministic sequence.

Pure apart from reading files. `verify_record` verifies every chain of an evidence folder with
`verify_log` (links, signatures, and that each entry belongs to the chain of its file), then checks the
heads the chains witnessed of each other (`chain-opened`, `chain-heads`): a chain that is missing, or
that does not reach a head another chain signed, fails the record, naming both. Heads recorded outside
(anchors) must each be reached by the chain they name, or by some chain when they name none. The merged
entries are ordered by time, then chain id, then seq (`order_key`): two verifications of the same record
give the same sequence. Called by `finplane evidence verify/export` and the platform API's evidence routes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from finplane.policy.evidence_bundle import build_bundle, readable_entries, signed_head
from finplane.policy.evidence_chain import Entry
from finplane.policy.evidence_keys import TrustedKeys
from finplane.policy.evidence_record import LOG_NAME, chain_files, order_key, witnessed_heads
from finplane.policy.evidence_verify import Anchor, Verification, default_trusted, verify_log

__all__ = ["RecordVerification", "chain_label", "load_record_bundle", "record_bundle", "record_head", "verify_record"]


def chain_label(chain: str) -> str:
    return chain or LOG_NAME


@dataclass(frozen=True)
class RecordVerification:
    """The verdict on a record: `ok`, per-chain verifications, the merged entries, and what is wrong."""
    ok: bool
    directory: Path
    chains: dict[str, Verification]
    entries: list[Entry]
    problems: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def head(self) -> str:
        return record_head(self.chains)

    def signed_heads(self) -> dict[str, object]:
        return {chain_label(c): signed_head(v) for c, v in sorted(self.chains.items())}


def record_head(chains: dict[str, Verification]) -> str:
    """One digest of the heads of every chain (what a CSV's first line and a single anchor name)."""
    heads = {chain_label(c): v.head for c, v in sorted(chains.items())}
    if len(heads) == 1:
        return next(iter(heads.values()))
    return hashlib.sha256(json.dumps(heads, sort_keys=True).encode()).hexdigest()


def _witness_problems(chains: dict[str, Verification], entries: dict[str, list[Entry]]) -> list[str]:
    seen: dict[str, dict[int, str]] = {c: {int(e["seq"]): str(e["hash"]) for e in es} for c, es in entries.items()}
    out: list[str] = []
    for by, es in sorted(entries.items()):
        for e in es:
            for chain, (seq, digest) in witnessed_heads(e).items():
                where = f"chain {chain_label(by)} witnessed chain {chain_label(chain)} at seq {seq} ({digest[:16]}…)"
                if chain not in chains:
                    out.append(f"{where}, but that chain is missing: it was removed")
                elif seq not in seen[chain]:
                    out.append(f"{where}, but it ends at seq {chains[chain].entries}: entries were removed from its end")
                elif seen[chain][seq] != digest:
                    out.append(f"{where}, but its entry {seq} is another one: it was rewritten")
    return sorted(set(out))


def _anchor_problems(anchors: list[Anchor], entries: dict[str, list[Entry]], keys: TrustedKeys) -> tuple[list[str],
                                                                                                           list[str]]:
    problems, reached = [], []
    for a in anchors:
        where = f"the head recorded in {a.source} ({a.hash[:16]}…)"
        if a.sig is not None and (bad := keys.check(entry_hash=a.hash, kid=a.kid, sig=a.sig)):
            problems.append(f"{where} is not a signed head of this record's key: {bad}")
            continue
        pool = {c: es for c, es in entries.items() if a.chain is None or c == a.chain}
        if a.chain is not None and a.chain not in entries:
            problems.append(f"{where} is the head of chain {chain_label(a.chain)}, which is missing: it was removed")
            continue
        found = next(((c, e) for c, es in pool.items() for e in es if e.get("hash") == a.hash), None)
        if found is None:
            problems.append(f"no chain reaches {where}: entries were removed from the end of a chain, or it was "
                            "replaced")
        elif a.seq is not None and int(found[1]["seq"]) != a.seq:
            problems.append(f"{where} is entry {found[1]['seq']} of chain {chain_label(found[0])}, not {a.seq}: "
                            "it was rewritten")
        else:
            reached.append(a.source)
    return problems, reached


def verify_record(directory: Path, *, keys: TrustedKeys | None = None, anchors: Iterable[Anchor] = ()
                  ) -> RecordVerification:
    """Verify every chain in `directory`, their witnessed heads and `anchors`; merge what verified."""
    looked: list[Path] = []
    if keys is None:
        keys, looked = default_trusted(directory / LOG_NAME)
    files = chain_files(directory)
    if not files:
        return RecordVerification(False, directory, {}, [], (
            f"{directory}: no evidence record (looked for {directory / LOG_NAME} and {directory / 'chains'}/*.jsonl)",))
    if not keys:
        where = ", ".join(str(p) for p in looked) or "nothing"
        return RecordVerification(False, directory, {}, [], (
            f"no trusted public key to check the signatures with (looked at {where}; give one with --public-key)",))
    chains: dict[str, Verification] = {}
    entries: dict[str, list[Entry]] = {}
    problems: list[str] = []
    notes: list[str] = []
    for chain, path in files.items():
        v = verify_log(path, keys=keys, chain=chain or None)
        chains[chain] = v
        entries[chain] = readable_entries(path, v)[:v.entries]
        if not v.ok:
            where = f"line {v.bad_line}: " if v.bad_line is not None else ""
            problems.append(f"chain {chain_label(chain)} ({path}): {where}{v.reason}")
        notes += [f"chain {chain_label(chain)}: {n}" for n in v.notes if not n.startswith("not anchored")]
    problems += _witness_problems(chains, entries)
    anchor_problems, reached = _anchor_problems(list(anchors), entries, keys)
    problems += anchor_problems
    if not reached and not problems:
        notes.append("not anchored: the chains, their signatures and the heads they witnessed of each other hold, "
                     "but removing the last entries of the newest chain cannot be seen without a head recorded "
                     "outside the record (--expect-head, --anchor, --kubeconfig, --s3-bucket)")
    merged = sorted((e for es in entries.values() for e in es), key=order_key)
    return RecordVerification(not problems, directory, chains, merged, tuple(problems), tuple(reached), tuple(notes))


def record_bundle(rv: RecordVerification, *, start: datetime, end: datetime, team: str | None) -> dict[str, Any]:
    """The export bundle of a record: the merged entries, and the signed head of every chain (`signedHeads`).

    `signedHead` is the head of the chain written last (what the OSCAL document carries); a later
    `verify --anchor bundle.json` checks the record against every one of `signedHeads`.
    """
    newest = max(rv.chains.items(), key=lambda cv: order_key(cv[1].head_entry or {}), default=None)
    v = Verification(rv.ok, len(rv.entries), rv.head, None, "; ".join(rv.problems),
                     newest[1].head_entry if newest else None, rv.anchors, notes=rv.notes)
    bundle = build_bundle(rv.entries, v, start=start, end=end, team=team)
    bundle["signedHeads"] = rv.signed_heads()
    bundle["chains"] = {chain_label(c): {"entries": cv.entries, "head": cv.head, "ok": cv.ok}
                        for c, cv in sorted(rv.chains.items())}
    return bundle


def load_record_bundle(directory: Path, *, start: datetime, end: datetime, team: str | None,
                       keys: TrustedKeys | None = None, anchors: list[Anchor] | None = None) -> dict[str, Any]:
    """Verify the record in `directory` and build the export bundle from what verified."""
    return record_bundle(verify_record(directory, keys=keys, anchors=anchors or []), start=start, end=end, team=team)
