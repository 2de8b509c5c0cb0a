"""The append-only, hash-chained evidence log (JSON lines).

Each entry carries `prev` (the previous entry's hash) and `hash` (SHA-256 of its own canonical
JSON without `hash`), so editing, inserting or removing any line breaks the chain from that line
on; `verify` names the first broken line. Written by the compliance reconciler on every change
(a result turning pass/fail/skip, a waiver granted or expired, a mode switched); read back at
start-up to know the last recorded state, and by `finplane evidence verify/export`.
Local file I/O only; shipping to S3 lives in `finplane.external.s3_evidence`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["GENESIS", "EvidenceLog", "Verification", "entry_hash", "read_entries", "state_at", "verify_log"]

GENESIS = "0" * 64
Entry = dict[str, Any]


def _canonical(entry: Entry) -> bytes:
    return json.dumps({k: v for k, v in entry.items() if k != "hash"}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Entry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """ISO 8601 (a bare date means its midnight UTC)."""
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def read_entries(path: Path) -> Iterator[tuple[int, Entry]]:
    """(line number, entry) of every line; raises ValueError naming a line that is not JSON."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}: not JSON ({exc.msg})") from None


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    bad_line: int | None = None
    reason: str = ""


def verify_log(path: Path) -> Verification:
    """Walk the chain; the first line whose hash, link or sequence is wrong fails verification."""
    prev, count = GENESIS, 0
    try:
        for number, entry in read_entries(path):
            if entry.get("prev") != prev:
                return Verification(False, count, prev, number, "prev does not match the previous entry's hash "
                                                                 "(a line was edited, inserted or removed)")
            if entry.get("seq") != count + 1:
                return Verification(False, count, prev, number, f"seq {entry.get('seq')} where {count + 1} was due")
            if entry.get("hash") != entry_hash(entry):
                return Verification(False, count, prev, number, "hash does not match the entry's content "
                                                                 "(the line was edited)")
            prev, count = entry["hash"], count + 1
    except ValueError as exc:
        line = int(str(exc).split(":")[0].split()[-1])
        return Verification(False, count, prev, line, str(exc))
    return Verification(True, count, prev)


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


class EvidenceLog:
    """One local log file; `append` writes and fsyncs one chained entry. Not shared between processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.head = GENESIS
        self.seq = 0
        self.results: dict[str, Entry] = {}  # last result entry per key (replayed at start)
        self.waivers: dict[str, str] = {}  # "policy/waiver" -> "granted" | "expired"
        self.modes: dict[str, str] = {}
        self._load()

    def _load(self) -> None:
        self.head, self.seq, self.results, self.waivers, self.modes = GENESIS, 0, {}, {}, {}
        for _, e in read_entries(self.path):
            self.head, self.seq = e.get("hash", self.head), int(e.get("seq", self.seq))
            self._remember(e)
        self._size = self.path.stat().st_size if self.path.exists() else 0

    def _remember(self, e: Entry) -> None:
        kind = e.get("type")
        if kind == "result":
            if e.get("result") == "removed":
                self.results.pop(e["key"], None)
            else:
                self.results[e["key"]] = e
        elif kind in ("waiver-granted", "waiver-expired"):
            self.waivers[f"{e.get('policy')}/{e.get('waiver')}"] = kind.split("-")[1]
        elif kind == "mode":
            self.modes[str(e.get("policy"))] = str(e.get("mode"))

    def append(self, event: Entry, *, now: datetime | None = None) -> Entry:
        """Chain `event` after the head and write it durably; returns the full entry."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            # An exclusive lock, and a reload if the file grew behind our back (another process on the
            # same folder), so that two writers extend one chain instead of forking it.
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            if os.fstat(fh.fileno()).st_size != self._size:
                self._load()
            entry: Entry = {"seq": self.seq + 1, "time": _iso(now or datetime.now(UTC)), **event, "prev": self.head}
            entry["hash"] = entry_hash(entry)
            fh.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            self._size = os.fstat(fh.fileno()).st_size
        self.head, self.seq = entry["hash"], entry["seq"]
        self._remember(entry)
        return entry
