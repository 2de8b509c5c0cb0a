"""The evidence record of several writers: one signed chain per writer, and how they are read together.

Layout of an evidence folder (`FINPLANE_EVIDENCE_DIR`):
  evidence.jsonl            the shared chain: every writer without a writer id appends here under a file lock
                            (`finplane dev`: the operator and the API on one host)
  chains/<writer>.jsonl     one chain per writer id (`FINPLANE_EVIDENCE_WRITER`; the chart sets the pod name),
                            appended only by that writer; every entry carries `chain: <writer>`, covered by
                            its hash and signature, so an entry cannot be moved to another chain unnoticed
  keys/evidence-ed25519.pem the signing key when no Secret is mounted (development)

Several replicas never share a file: a pod writes its own chain, on a volume every pod mounts (a
ReadWriteMany PersistentVolumeClaim) or shipped to S3. Chains watch each other: a writer's first entry
(`chain-opened`) and the operator's `chain-heads` entries record the heads of the other chains it sees
(`witness`), so that removing a chain, or entries from its end, is caught by the heads another chain signed.

`PeerChains` is what a writer reads of the others (their new, verified entries, to replay the state; the
problems found); `verify_record` (in `evidence_merge`) verifies all of them together and merges them.
Called by `evidence.EvidenceLog`, `evidence_merge`, the S3 shipper and `finplane evidence`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from finplane.policy.evidence_chain import GENESIS, Entry, read_lines
from finplane.policy.evidence_keys import TrustedKeys
from finplane.policy.evidence_verify import check_link, first_bad_signature

__all__ = ["CHAINS", "LOG_NAME", "SHARED", "WITNESS_TYPES", "WRITER_ENV", "Heads", "PeerChains", "chain_files", "chain_path",
           "check_writer_id", "order_key", "witnessed_heads"]

LOG_NAME = "evidence.jsonl"
CHAINS = "chains"
SHARED = ""  # the chain id of evidence.jsonl (its entries carry no `chain`)
WRITER_ENV = "FINPLANE_EVIDENCE_WRITER"
WITNESS_TYPES = ("chain-opened", "chain-heads")
Heads = dict[str, dict[str, object]]  # chain -> {"seq", "hash"}: what a witness entry records
_WRITER = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")  # a pod name (DNS subdomain)


def check_writer_id(writer: str) -> str:
    """`writer` when it is a valid chain id (a pod name); ValueError naming the rule otherwise."""
    if not _WRITER.match(writer):
        raise ValueError(f"evidence writer id {writer!r} is not a DNS subdomain (lower-case letters, digits, '-', "
                         f"'.'; a pod name): set {WRITER_ENV} to the pod name")
    return writer


def chain_path(directory: Path, writer: str | None) -> Path:
    """The file of `writer`'s chain in `directory` (the shared evidence.jsonl without a writer id)."""
    return directory / CHAINS / f"{check_writer_id(writer)}.jsonl" if writer else directory / LOG_NAME


def chain_files(directory: Path) -> dict[str, Path]:
    """Every chain in `directory`, by chain id (SHARED for evidence.jsonl), sorted by id."""
    out: dict[str, Path] = {}
    if (directory / LOG_NAME).is_file():
        out[SHARED] = directory / LOG_NAME
    if (directory / CHAINS).is_dir():
        for p in sorted((directory / CHAINS).glob("*.jsonl")):
            out[p.name[:-len(".jsonl")]] = p
    return out


def order_key(e: Entry) -> tuple[str, str, int]:
    """The merge order of entries of several chains: time, then chain id, then seq (deterministic)."""
    return (str(e.get("time", "")), str(e.get("chain") or SHARED), int(e.get("seq", 0)))


def witnessed_heads(e: Entry) -> dict[str, tuple[int, str]]:
    """The heads of other chains a witness entry records: chain -> (seq, hash)."""
    if e.get("type") not in WITNESS_TYPES or not isinstance(e.get("heads"), dict):
        return {}
    out = {}
    for chain, head in e["heads"].items():
        if isinstance(head, dict) and isinstance(head.get("hash"), str) and isinstance(head.get("seq"), int):
            out[str(chain)] = (int(head["seq"]), str(head["hash"]))
    return out


@dataclass
class _Peer:
    size: int = 0
    next_line: int = 1
    head: str = GENESIS
    seq: int = 0
    hashes: dict[int, str] = field(default_factory=dict)  # seq -> hash of what was read (for witnessed heads)


class PeerChains:
    """The other writers' chains in a record folder, read incrementally by a writer.

    `refresh` returns the entries appended since the last call (each chain's links and signatures checked;
    a chain stops being read at its first problem) and keeps `problems` (chain -> reason): a chain that
    shrank, vanished, broke, or no longer reaches a head a witness recorded.
    """

    def __init__(self, directory: Path, *, own: str, keys: TrustedKeys) -> None:
        self.directory, self.own, self.keys = directory, own, keys
        self.peers: dict[str, _Peer] = {}
        self.problems: dict[str, str] = {}
        self.witnessed: dict[str, tuple[int, str, str]] = {}  # chain -> (seq, hash, by whom) highest witnessed

    def heads(self) -> Heads:
        """The heads of the peers read so far (for a witness entry)."""
        return {c: {"seq": p.seq, "hash": p.head} for c, p in sorted(self.peers.items()) if p.seq}

    def note_witness(self, e: Entry, *, by: str) -> None:
        for chain, (seq, digest) in witnessed_heads(e).items():
            if chain != self.own and seq > self.witnessed.get(chain, (0, "", ""))[0]:
                self.witnessed[chain] = (seq, digest, by)

    def refresh(self) -> list[Entry]:
        new: list[Entry] = []
        files = chain_files(self.directory)
        for chain, path in files.items():
            if chain == self.own or chain in self.problems:
                continue
            new += self._read(chain, path)
        for chain, peer in list(self.peers.items()):
            if chain not in files and chain not in self.problems:
                self.problems[chain] = f"chain {chain or LOG_NAME} is gone (it held {peer.seq} entries when read)"
        for chain, (seq, digest, by) in list(self.witnessed.items()):
            if chain in self.problems:
                continue
            if chain in files and self._short(chain, seq):
                new += self._read(chain, files[chain])  # it may have grown since it was read in this pass
            problem = self._witness_problem(chain, seq, digest, by, present=chain in files)
            if problem is not None and chain not in self.problems:
                self.problems[chain] = problem
        return new

    def _short(self, chain: str, seq: int) -> bool:
        peer = self.peers.get(chain)
        return peer is None or peer.seq < seq

    def _witness_problem(self, chain: str, seq: int, digest: str, by: str, *, present: bool) -> str | None:
        """Why `chain` does not hold the head (`seq`, `digest`) that `by` witnessed (None when it does)."""
        name, peer = chain or LOG_NAME, self.peers.get(chain)
        if not present:
            return f"chain {name} is missing, but {by} witnessed it at seq {seq} ({digest[:16]}…): it was removed"
        if peer is None or peer.seq < seq:
            return (f"chain {name} ends at seq {peer.seq if peer else 0}, but {by} witnessed seq {seq} "
                    f"({digest[:16]}…): entries were removed from its end")
        if peer.hashes.get(seq) != digest:
            return f"chain {name} was rewritten: its entry {seq} is not the one {by} witnessed"
        return None

    def _read(self, chain: str, path: Path) -> list[Entry]:
        peer = self.peers.setdefault(chain, _Peer())
        try:
            if path.stat().st_size < peer.size:
                self.problems[chain] = f"chain {chain or LOG_NAME} shrank below the {peer.size} bytes already read"
                return []
            found = read_lines(path, offset=peer.size, first_line=peer.next_line)
        except FileNotFoundError:
            return []
        batch: list[tuple[int, Entry]] = []
        ends: list[int] = []
        prev, seq = peer.head, peer.seq
        for number, end, e in found.entries:
            bad = check_link(e, prev=prev, seq=seq + 1, chain=chain or None)
            if bad:
                self.problems[chain] = f"chain {chain or LOG_NAME} line {number}: {bad}"
                break
            batch.append((number, e))
            ends.append(end)
            prev, seq = e["hash"], seq + 1
        unsigned = first_bad_signature(batch, self.keys)
        if unsigned is not None:
            index, number, reason = unsigned
            self.problems[chain] = f"chain {chain or LOG_NAME} line {number}: {reason}"
            batch = batch[:index]
        elif found.corrupt is not None and chain not in self.problems:
            self.problems[chain] = f"chain {chain or LOG_NAME}: {found.corrupt}"
        out = []
        for (number, e), end in zip(batch, ends, strict=False):
            peer.size, peer.next_line, peer.head, peer.seq = end, number + 1, e["hash"], int(e["seq"])
            peer.hashes[peer.seq] = peer.head
            self.note_witness(e, by=f"chain {chain or LOG_NAME}")
            out.append(e)
        return out
