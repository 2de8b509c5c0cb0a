"""The evidence log's line format: canonical hashing, reading lines, checking one link of the chain.

Pure apart from reading the file. Each entry is one JSON line carrying `seq`, `prev` (the previous
entry's hash), `hash` (SHA-256 of its canonical JSON without `hash`, `kid` and `sig`), and `sig`/`kid`
(an Ed25519 signature of the hash, by the key `kid` names; see `evidence_keys`). Used by the
writer (`evidence.EvidenceLog`), the verifier (`evidence_verify`) and the S3 shipper.

A last line without its newline that is not JSON is a torn write (a crash mid-append): `read_lines`
reports it apart instead of failing, and the writer recovers it. Any other line that is not JSON,
or a broken link, is corruption: `EvidenceCorrupt`, which names the line and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["GENESIS", "Entry", "EvidenceCorrupt", "Lines", "Torn", "canonical", "entry_hash", "iso", "parse_time",
           "read_entries", "read_lines"]

GENESIS = "0" * 64
Entry = dict[str, Any]
_UNHASHED = ("hash", "kid", "sig")  # the signature covers the hash; kid only names the key


class EvidenceCorrupt(ValueError):
    """The log is not what Finplane wrote: `line` (1-based, or None for the whole file) and `reason`.

    The compliance reconciler turns it into `Ready=False` with reason `EvidenceCorrupt` (see
    `corrupt_condition`); the platform API refuses changes with 503 while the log is corrupt.
    """

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        self.line, self.reason = line, reason
        super().__init__(f"line {line}: {reason}" if line is not None else reason)

    def condition(self) -> dict[str, str]:
        """The policy condition for this corruption (type, status, reason, message): no secrets in it."""
        return {"type": "Ready", "status": "False", "reason": "EvidenceCorrupt",
                "message": f"the evidence log is corrupt ({self}); evaluation goes on, new entries are refused "
                           f"until an operator restores the log (see docs/compliance.md)"[:1024]}


@dataclass(frozen=True)
class Torn:
    """A torn last line: `line` number, byte `offset` where it starts, and its raw bytes."""
    line: int
    offset: int
    data: bytes


def canonical(entry: Entry) -> bytes:
    return json.dumps({k: v for k, v in entry.items() if k not in _UNHASHED}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Entry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """ISO 8601 (a bare date means its midnight UTC)."""
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Lines:
    """What `read_lines` found: the entries (line, end offset, entry) up to any corruption, and what stopped it."""
    entries: list[tuple[int, int, Entry]]
    torn: Torn | None = None
    corrupt: EvidenceCorrupt | None = None


def read_lines(path: Path, *, offset: int = 0, first_line: int = 1) -> Lines:
    """The entries from byte `offset` on, a torn last line, or the first line that is not a JSON object.

    A last line without its newline that is not JSON is torn (a crash mid-append), not corrupt.
    Blank lines are skipped (but counted). Raises FileNotFoundError for a missing file.
    """
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    out: list[tuple[int, int, Entry]] = []
    pos, number = 0, first_line
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        raw = data[pos:end]
        if raw.strip():
            try:
                entry = json.loads(raw)
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                if nl < 0:
                    return Lines(out, torn=Torn(number, offset + pos, raw))
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                return Lines(out, corrupt=EvidenceCorrupt(f"not a JSON entry ({msg})", line=number))
            out.append((number, offset + end, entry))
        pos, number = end, number + 1
    return Lines(out)


def read_entries(path: Path) -> Iterator[tuple[int, Entry]]:
    """(line number, entry) of every complete line, then `EvidenceCorrupt` for a line that is not JSON.

    Nothing for a missing file; a torn last line is skipped.
    """
    if not path.exists():
        return
    found = read_lines(path)
    for number, _end, entry in found.entries:
        yield number, entry
    if found.corrupt is not None:
        raise found.corrupt
