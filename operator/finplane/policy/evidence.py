"""The append-only, hash-chained, signed evidence log (JSON lines): the writer.

Each entry carries `seq`, `prev` (the previous entry's hash), `hash` (SHA-256 of its canonical JSON)
and an Ed25519 signature `sig` by the operator's key `kid` (`evidence_keys`), so that an edited,
inserted, deleted, appended or re-chained line fails `verify_log` (`evidence_verify`) at that line;
removing the last lines shows against a head recorded outside the log (an anchor).

Written by the compliance reconciler on every change (a result turning pass/fail/skip, a waiver
granted or expired, a mode switched) and by the platform API (every authenticated change); read
back at start-up to know the last recorded state, and by `finplane evidence verify/export`.
A torn last line (a crash mid-append) is cut off and recorded by a `torn-line-recovered` entry on
the next append; any other corruption, and a log that shrank under a writer, sets `corrupt`
(an `EvidenceCorrupt`) and `append` refuses to chain onto it. Local file I/O only; shipping to S3
lives in `finplane.external.s3_evidence`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from finplane.policy.evidence_chain import (
    GENESIS,
    Entry,
    EvidenceCorrupt,
    Torn,
    entry_hash,
    iso,
    parse_time,
    read_entries,
    read_lines,
)
from finplane.policy.evidence_keys import Signer, TrustedKeys, default_key_file, load_or_create_signer
from finplane.policy.evidence_record import (
    LOG_NAME,
    SHARED,
    WRITER_ENV,
    Heads,
    PeerChains,
    chain_path,
    order_key,
)
from finplane.policy.evidence_verify import Anchor, Verification, check_link, first_bad_signature, verify_log

__all__ = ["GENESIS", "LOG_NAME", "Anchor", "EvidenceCorrupt", "EvidenceLog", "Verification", "entry_hash",
           "open_chain", "parse_time", "read_entries", "state_at", "verify_log"]


def state_at(entries: list[Entry], at: datetime) -> dict[str, Entry]:
    """The last recorded result of every key at `at` ("what was true on date X"); removed results are gone."""
    state: dict[str, Entry] = {}
    for e in entries:
        if e.get("type") != "result" or parse_time(e["time"]) > at:
            continue
        if e.get("result") == "removed":
            state.pop(e["key"], None)
        else:
            state[e["key"]] = e
    return state


def open_chain(directory: Path, *, writer: str | None = None, signer: Signer | None = None,
               trusted: TrustedKeys | None = None) -> EvidenceLog:
    """The chain this process writes in the record `directory`: its own (`writer`, else $FINPLANE_EVIDENCE_WRITER,
    the pod name on a cluster) or, without a writer id, the shared evidence.jsonl (`finplane dev`)."""
    writer = writer or os.environ.get(WRITER_ENV) or None
    return EvidenceLog(chain_path(directory, writer), chain=writer, record=directory, signer=signer, trusted=trusted)


class EvidenceLog:
    """One chain file; `append` chains, signs, writes and fsyncs one entry under an exclusive file lock.

    Several processes may append to the shared file (the operator and the API in `finplane dev`): each
    reloads what the others wrote before it appends, so they extend one chain. A writer with a `chain` id
    appends only to its own file (chains/<id>.jsonl), and reads the other chains of the record folder
    (`peers`) to replay the state they recorded (results, waivers, marks: the newest entry wins, by time)
    and to witness their heads (`witness`; see `evidence_record`).
    """

    def __init__(self, path: Path, *, signer: Signer | None = None, trusted: TrustedKeys | None = None,
                 chain: str | None = None, record: Path | None = None) -> None:
        self.path, self.chain = path, chain
        self.record = record if record is not None else (path.parent.parent if chain else path.parent)
        self.signer = signer or load_or_create_signer(default_key_file(self.record / LOG_NAME))
        self.keys = self.signer.trusted().merged(trusted) if trusted else self.signer.trusted()
        self._when: dict[tuple[str, str], tuple[str, str, int]] = {}  # state key -> order of the entry that set it
        self._last_witness: Heads | None = None
        self.results: dict[str, Entry] = {}  # last result entry per key (replayed at start)
        self.waivers: dict[str, str] = {}  # "policy/waiver" -> "granted" | "expired"
        self.modes: dict[str, str] = {}
        self.marks: dict[str, str] = {}  # "mark" -> its last "markValue" (the recorder's once-only entries)
        self.head, self.seq = GENESIS, 0
        self.corrupt: EvidenceCorrupt | None = None
        self.unsynced = 0  # entries appended with durable=False since the last flush
        self._size, self._next_line = 0, 1  # where the last entry read ends, and the number of the next line
        self._torn: Torn | None = None
        # The furthest entry this process has verified (seq, hash), and the hash found at that seq on the last
        # read: a reload must find the same entry there, or entries were removed or rewritten meanwhile.
        self._high: tuple[int, str] = (0, GENESIS)
        self._seen_high = GENESIS
        self._anchors: dict[str, str] = {}  # heads recorded outside the log that it does not reach -> where
        self._load()

    def _load(self) -> None:
        self.head, self.seq, self.results, self.waivers, self.modes, self.marks = GENESIS, 0, {}, {}, {}, {}
        self.corrupt, self._size, self._next_line, self._torn = None, 0, 1, None
        self._seen_high, self._when = GENESIS, {}
        self.peers = PeerChains(self.record, own=self.chain or SHARED, keys=self.keys)
        self._read_from(0)
        self._absorb(self.peers.refresh())
        seq, digest = self._high
        if seq and self._seen_high != digest:
            # Sticky: what this process once read must still be there, or a truncation would pass on reload.
            self.corrupt = EvidenceCorrupt(
                f"the log no longer holds entry {seq} ({digest[:16]}…) that was read from it before: entries "
                f"were removed from its end or it was rewritten (it now ends at seq {self.seq})")
        if self.corrupt is None and self._anchors:  # sticky too, until the log reaches the head again
            head, source = next(iter(self._anchors.items()))
            self.corrupt = self._unanchored(head, source)

    def _read_from(self, offset: int) -> None:
        """Check and replay the entries from byte `offset` (where the last one this process knows ends)."""
        self._torn = None
        try:
            found = read_lines(self.path, offset=offset, first_line=self._next_line)
        except FileNotFoundError:
            return
        prev, seq, batch, ends = self.head, self.seq, [], []
        for number, end, e in found.entries:
            bad = check_link(e, prev=prev, seq=seq + 1)
            if bad:
                self.corrupt = EvidenceCorrupt(bad, line=number)
                break
            batch.append((number, e))
            ends.append(end)
            prev, seq = e["hash"], seq + 1
        unsigned = first_bad_signature(batch, self.keys)
        if unsigned is not None:  # never chain onto an entry whose signature does not hold
            index, number, reason = unsigned
            self.corrupt = EvidenceCorrupt(reason, line=number)
            batch = batch[:index]
        for (number, e), end in zip(batch, ends, strict=False):
            self.head, self.seq, self._size, self._next_line = e["hash"], int(e["seq"]), end, number + 1
            self._remember(e)
            if self.seq == self._high[0]:
                self._seen_high = self.head
            elif self.seq > self._high[0] and self._seen_high == self._high[1]:
                self._high, self._seen_high = (self.seq, self.head), self.head
        if self.corrupt is None:
            self.corrupt = found.corrupt
        if self.corrupt is None:
            self._torn = found.torn

    def _absorb(self, entries: list[Entry]) -> None:
        """Replay entries of the other chains (read by `peers`) into the state."""
        for e in entries:
            self._anchors.pop(str(e.get("hash")), None)
            self._replay(e)

    def _newer(self, what: str, key: str, e: Entry) -> bool:
        """Is `e` at least as new as the entry that last set `what`/`key` (in the merge order of chains)?"""
        order = order_key(e)
        if order < self._when.get((what, key), ("", "", 0)):
            return False
        self._when[(what, key)] = order
        return True

    def _remember(self, e: Entry) -> None:
        self._anchors.pop(str(e.get("hash")), None)
        self.peers.note_witness(e, by=f"chain {self.chain or LOG_NAME} (this writer)")
        self._replay(e)

    def _replay(self, e: Entry) -> None:
        if isinstance(e.get("mark"), str) and self._newer("mark", e["mark"], e):
            self.marks[e["mark"]] = str(e.get("markValue", ""))
        kind = e.get("type")
        if kind == "result" and self._newer("result", str(e.get("key")), e):
            if e.get("result") == "removed":
                self.results.pop(e["key"], None)
            else:
                self.results[e["key"]] = e
        elif kind in ("waiver-granted", "waiver-expired"):
            key = f"{e.get('policy')}/{e.get('waiver')}"
            if self._newer("waiver", key, e):
                self.waivers[key] = kind.split("-")[1]
        elif kind == "mode" and self._newer("mode", str(e.get("policy")), e):
            self.modes[str(e.get("policy"))] = str(e.get("mode"))

    def sync(self, fd: int) -> None:
        """Catch up with what other writers appended; a log shorter than what was read is corrupt."""
        size = os.fstat(fd).st_size
        if self.corrupt is not None:
            self._load()  # restored by an operator meanwhile? then the log is whole again
        elif size < self._size:
            self.corrupt = EvidenceCorrupt(
                f"the log is {size} bytes, shorter than the {self._size} bytes already read (up to seq {self.seq}, "
                f"{self.head[:16]}…): entries were removed from its end")
        elif size != self._size:
            self._read_from(self._size)
        self._absorb(self.peers.refresh())

    def record_problem(self) -> EvidenceCorrupt | None:
        """The first problem found in another writer's chain (removed, cut short, broken), as EvidenceCorrupt."""
        if not self.peers.problems:
            return None
        chain, reason = sorted(self.peers.problems.items())[0]
        return EvidenceCorrupt(f"in the evidence record {self.record}: {reason}")

    def check(self) -> None:
        """Raise `EvidenceCorrupt` (or OSError) unless an append could be chained now; creates nothing.

        The platform API calls it before it makes a change, so that a change is not made without its evidence.
        """
        if self.path.exists():
            with self.path.open("rb") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
                self.sync(fh.fileno())
            writable = os.access(self.path, os.W_OK)
        elif self.seq:
            self.corrupt = EvidenceCorrupt(f"the log file is gone (it held {self.seq} entries)")
            writable = True
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writable = os.access(self.path.parent, os.W_OK)
            self._absorb(self.peers.refresh())  # a writer yet to append (a standby taking over) catches up
        if self.corrupt is not None:
            raise self.corrupt
        if not writable:
            raise PermissionError(f"{self.path}: not writable")

    def check_anchor(self, head: str, *, source: str) -> EvidenceCorrupt | None:
        """Does the record reach `head`, recorded in `source` (e.g. the policy's status)? If not, it is corrupt.

        The head may be in another writer's chain (the operator replica that was active before this one)."""
        self._absorb(self.peers.refresh())
        if head in (GENESIS, self.head) or any(e.get("hash") == head for _, e in read_entries(self.path)) or \
                any(head in p.hashes.values() for p in self.peers.peers.values()):
            return None
        self._anchors[head] = source  # kept: a later reload must not forget it (append stays refused)
        self.corrupt = self._unanchored(head, source)
        return self.corrupt

    def _unanchored(self, head: str, source: str) -> EvidenceCorrupt:
        return EvidenceCorrupt(f"the log does not reach the head recorded in {source} ({head[:16]}…): it "
                               f"ends at seq {self.seq}, so entries were removed or it was replaced")

    def _write(self, fh: object, event: Entry, now: datetime) -> Entry:
        entry: Entry = {"seq": self.seq + 1, "time": iso(now), **event, "prev": self.head}
        if self.chain:
            entry["chain"] = self.chain
        entry["hash"] = entry_hash(entry)
        entry["kid"], entry["sig"] = self.signer.sign(entry["hash"])
        fh.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")  # type: ignore[attr-defined]
        self.head, self.seq = entry["hash"], entry["seq"]
        self._high, self._seen_high = (self.seq, self.head), self.head
        self._remember(entry)
        return entry

    def _recover_torn(self, fh: object, torn: Torn, now: datetime) -> None:
        fd = fh.fileno()  # type: ignore[attr-defined]
        os.ftruncate(fd, torn.offset)
        self._write(fh, {"type": "torn-line-recovered", "line": torn.line, "bytes": len(torn.data),
                         "sha256": hashlib.sha256(torn.data).hexdigest(),
                         "message": f"a write interrupted by a crash left {len(torn.data)} bytes without a newline "
                                    f"at line {torn.line}; they were removed (their SHA-256 is recorded here)"}, now)

    def append(self, event: Entry, *, now: datetime | None = None, durable: bool = True) -> Entry:
        """Chain `event` after the head, sign it and write it; returns the full entry.

        `durable` (the default) syncs it to disk before returning. With `durable=False` the entry is written
        (a crash of this process cannot lose it: the kernel holds it) but its fsync waits for `flush`, which
        a caller batching many entries calls once for all of them (group commit: a machine crash loses at
        most what was appended since the last flush).
        Raises `EvidenceCorrupt` when the log is corrupt (nothing is written), OSError when the disk fails.
        """
        when = now or datetime.now(UTC)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as fh:  # a+: pread of the tail needs a readable fd
            fd = fh.fileno()
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.sync(fd)
            if self.corrupt is not None:
                raise self.corrupt
            end = self._torn.offset if self._torn is not None else os.fstat(fd).st_size
            line = self._next_line + os.pread(fd, end - self._size, self._size).count(b"\n")  # blank lines
            if self._torn is not None:
                self._recover_torn(fh, self._torn, when)
                self._torn, line = None, line + 1
            elif self._size and os.pread(fd, 1, self._size - 1) != b"\n":
                fh.write("\n")  # the last entry was written whole but its newline was lost
            if self.chain and self.seq == 0 and event.get("type") != "chain-opened":
                self._write(fh, self._opened(self.peers.heads()), when)  # a new chain opens with the others' heads
                line += 1
            entry = self._write(fh, event, when)
            fh.flush()
            if durable:
                os.fsync(fd)
            else:
                self.unsynced += 1
            self._size, self._next_line = os.fstat(fd).st_size, line + 1
        return entry

    def flush(self) -> int:
        """Sync the entries appended with `durable=False` to disk; returns how many were waiting."""
        waiting, self.unsynced = self.unsynced, 0
        if waiting:
            self.sync_file()
        return waiting

    def sync_file(self) -> None:
        """fsync the log file: its dirty pages, whichever descriptor wrote them (safe from another thread)."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def witness(self, *, now: datetime | None = None) -> Entry | None:
        """Record the heads of the other chains when they moved since this writer last recorded them.

        Called by the compliance reconciler after each pass: removing a chain or the end of one is then caught
        against these signed heads (`PeerChains`, `verify_record`). None when nothing moved (nothing written).
        """
        if self.path.exists():
            with self.path.open("rb") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
                self.sync(fh.fileno())
        else:
            self._absorb(self.peers.refresh())
        heads = self.peers.heads()
        if not heads or heads == self._last_witness:
            return None
        if self.chain and self.seq == 0:
            return self.append(self._opened(heads), now=now)
        self._last_witness = heads
        return self.append({"type": "chain-heads", "heads": heads,
                            "message": f"heads of {len(heads)} other evidence chain(s) witnessed"}, now=now)

    def _opened(self, heads: Heads) -> Entry:
        self._last_witness = heads
        return {"type": "chain-opened", "writer": self.chain, "heads": heads,
                "message": f"writer {self.chain} opened its chain; the heads of the {len(heads)} other chain(s) "
                           "it found are recorded"}
