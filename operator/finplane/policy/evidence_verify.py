"""Verify an evidence log: the chain, its signatures, and that it reaches the heads recorded outside it.

Pure apart from reading the log and key files. `verify_log` walks the log and stops at the first
line whose sequence number, link, hash or signature is wrong, naming it and why (the signature of the
last entry vouches for the whole chain before it; the others are checked only to name a bad line). The chain and the
signatures catch an edited, inserted or deleted line and an entry appended or re-chained by someone
without the operator's key. What no file can show by itself is that its last entries were removed
(or that it was replaced by an older copy): for that, `anchors` are heads recorded elsewhere (the
policies' `status.evidence.headHash`, the S3 copy, the signed head of an earlier export, a hash
given by hand), and each one must be an entry of the log. Called by `finplane evidence verify/export`,
the platform API's evidence routes and `EvidenceLog` (which checks what it reads with `check_link`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from finplane.policy.evidence_chain import GENESIS, Entry, Torn, entry_hash, read_lines
from finplane.policy.evidence_keys import TrustedKeys, default_key_file, load_public_key

__all__ = ["Anchor", "Verification", "check_link", "default_trusted", "verify_log"]


@dataclass(frozen=True)
class Anchor:
    """A head recorded outside the log: where (`source`), its hash, and when known its seq and signature."""
    source: str
    hash: str
    seq: int | None = None
    kid: str | None = None
    sig: str | None = None
    chain: str | None = None  # the writer's chain it is the head of, when known (S3, an export); else any chain


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    bad_line: int | None = None
    reason: str = ""
    head_entry: Entry | None = None  # the last verified entry: its seq, hash and signature are the signed head
    anchors: tuple[str, ...] = ()  # the sources of the anchors the log reaches
    torn: Torn | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def anchored(self) -> bool:
        return bool(self.anchors)


def check_link(entry: Entry, *, prev: str, seq: int, chain: str | None = None) -> str | None:
    """Why `entry` cannot follow head `prev` as number `seq` of `chain` (None when it can); signatures apart."""
    if entry.get("chain") != chain:
        return (f"the entry belongs to chain {entry.get('chain') or 'evidence.jsonl'}, not to "
                f"{chain or 'evidence.jsonl'} (an entry or a file was moved between chains)")
    if entry.get("seq") != seq:
        return (f"seq {entry.get('seq')} where {seq} was due (an entry before this line was deleted, "
                "or one was inserted)")
    if entry.get("prev") != prev:
        return "prev does not match the previous entry's hash (a line was edited, inserted or removed)"
    if entry.get("hash") != entry_hash(entry):
        return "hash does not match the entry's content (the line was edited)"
    return None


def first_bad_signature(entries: list[tuple[int, Entry]], keys: TrustedKeys) -> tuple[int, int, str] | None:
    """(index, line, reason) of the first entry of an intact chain whose signature fails, or None.

    The last signature is checked first, and is enough when it holds: it covers that entry's hash, which
    covers `prev`, so every entry before it through the chain (each one was also signed when appended, and
    a writer never chains onto an entry whose signature it has not checked). Only when it fails is every
    entry checked, to name the first bad line (a forged suffix: from an edit on, or appended entries).
    """
    def bad(e: Entry) -> str | None:
        return keys.check(entry_hash=str(e.get("hash")), kid=e.get("kid"), sig=e.get("sig"))

    if not entries or bad(entries[-1][1]) is None:
        return None
    for index, (number, e) in enumerate(entries):
        reason = bad(e)
        if reason:
            return index, number, reason
    return None  # unreachable: the last one failed


def default_trusted(log: Path) -> tuple[TrustedKeys, list[Path]]:
    """The public half of the key the writer signs with (else its `.pub`), and the files looked at.

    The key file first: it is what the writer signs with. This trusts the files beside the log; an
    auditor verifies with the public key recorded when the system was accepted (`--public-key`).
    """
    key = default_key_file(log)
    looked = [key, key.with_suffix(".pub")]
    for path in looked:
        if path.exists():
            return load_public_key(path), looked
    return TrustedKeys(), looked


def _anchor_problem(a: Anchor, seqs: dict[str, int], keys: TrustedKeys, count: int, head: str) -> str | None:
    where = f"the head recorded in {a.source} (" + (f"seq {a.seq}, " if a.seq is not None else "") + f"{a.hash[:16]}…)"
    if a.sig is not None:
        bad = keys.check(entry_hash=a.hash, kid=a.kid, sig=a.sig)
        if bad:
            return f"{where} is not a signed head of this log's key: {bad}"
    found = seqs.get(a.hash)
    if found is None:
        if count == 0:
            return f"the log is empty but {where} says it held entries: it was truncated"
        return (f"the log does not reach {where}: it ends at seq {count} ({head[:16]}…), so entries were removed "
                "from its end or it was rewritten")
    if a.seq is not None and a.seq != found:
        return f"{where} is entry {found} in this log, not {a.seq}: the log was rewritten"
    return None


def verify_log(path: Path, *, keys: TrustedKeys | None = None, anchors: Iterable[Anchor] = (),
               chain: str | None = None, key_log: Path | None = None) -> Verification:
    """Walk the chain; the first wrong line, a missing signature or an unreached anchor fails verification.

    `chain` is the chain id the entries must carry (None for the shared evidence.jsonl); `key_log` the log
    whose default key files are trusted when `keys` is None (the record's evidence.jsonl for a writer's chain).
    """
    looked: list[Path] = []
    if keys is None:
        keys, looked = default_trusted(key_log or path)
    anchors = list(anchors)
    if not keys:
        where = ", ".join(str(p) for p in looked) or "nothing"
        return Verification(False, 0, GENESIS, None, f"no trusted public key to check the signatures with "
                                                     f"(looked at {where}; give one with --public-key)")
    try:
        found = read_lines(path)
    except FileNotFoundError:
        return Verification(False, 0, GENESIS, None, f"{path}: no evidence log")
    torn = found.torn
    prev, walked = GENESIS, list[tuple[int, Entry]]()
    broken: tuple[int | None, str] | None = None
    for number, _end, entry in found.entries:
        bad = check_link(entry, prev=prev, seq=len(walked) + 1, chain=chain)
        if bad:
            broken = (number, bad)
            break
        walked.append((number, entry))
        prev = entry["hash"]
    if broken is None and found.corrupt is not None:
        broken = (found.corrupt.line, found.corrupt.reason)
    unsigned = first_bad_signature(walked, keys)
    if unsigned is not None:  # a forged entry comes before any break it caused
        index, number, reason = unsigned
        before = walked[index - 1][1] if index else None
        return Verification(False, index, before["hash"] if before else GENESIS, number, reason, before, torn=torn)
    count, last = len(walked), (walked[-1][1] if walked else None)
    if broken is not None:
        return Verification(False, count, prev, broken[0], broken[1], last, torn=torn)
    seqs = {e["hash"]: i + 1 for i, (_n, e) in enumerate(walked)}
    notes: list[str] = []
    if torn is not None:
        notes.append(f"line {torn.line}: a torn last line ({len(torn.data)} bytes without a newline, not JSON) left "
                     "by a write a crash interrupted; it is not an entry, and the writer removes it and records "
                     "that on its next append")
    reached: list[str] = []
    for a in anchors:
        problem = _anchor_problem(a, seqs, keys, count, prev)
        if problem:
            return Verification(False, count, prev, None, problem, last, tuple(reached), torn, tuple(notes))
        reached.append(a.source)
    if count == 0 and torn is None:
        return Verification(False, 0, GENESIS, None, "the log is empty: Finplane never leaves an empty log, "
                                                     "so it was truncated", None, notes=tuple(notes))
    if not anchors:
        notes.append("not anchored: the chain and its signatures hold, but removing the last entries cannot be "
                     "seen without a head recorded outside the log (--expect-head, --anchor, --kubeconfig)")
    return Verification(True, count, prev, None, "", last, tuple(reached), torn, tuple(notes))
