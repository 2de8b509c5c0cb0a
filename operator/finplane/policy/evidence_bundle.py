"""The point-in-time evidence bundle, built in memory: what `finplane evidence export` writes and
what the platform API serves for download.

Pure apart from reading the log file: `load_bundle` verifies the chain, keeps the entries up to
the first broken line, and returns the state of every result at `end` ("what was true on date X"),
the entries between `start` and `end` (optionally for one team), the chain's head hash, whether it
verified (signatures and anchors included), and its signed head (seq, hash, kid, sig of the last
verified entry) that a later `finplane evidence verify --anchor bundle.json` checks a log against.
The waivers granted by then (with approvers and expiry) feed the OSCAL risks. `bundle_csv`
renders the state or the entries as CSV whose first line names the chain head. Called by
`finplane.commands.evidence` and `platform_api.services.evidence`.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finplane.policy.evidence import Verification, parse_time, read_entries, state_at, verify_log
from finplane.policy.evidence_keys import TrustedKeys
from finplane.policy.evidence_verify import Anchor

__all__ = ["COLUMNS", "build_bundle", "bundle_csv", "load_bundle", "parse_range", "readable_entries", "signed_head",
           "waivers_at"]

COLUMNS = ["seq", "time", "type", "policy", "rule", "object", "team", "result", "previous", "message",
           "waiver", "hash"]
Entry = dict[str, Any]


def readable_entries(log: Path, v: Verification) -> list[Entry]:
    """The entries a bundle may rest on: all of them when the chain verified, else those before the break."""
    out: list[Entry] = []
    try:
        for number, entry in read_entries(log):
            if v.bad_line is not None and number >= v.bad_line:
                break
            out.append(entry)
    except ValueError:
        pass  # a line that is not JSON: verification already named it, keep what came before
    return out


def signed_head(v: Verification) -> dict[str, Any] | None:
    """The last verified entry's seq, hash, time and signature: an anchor for a later verify."""
    e = v.head_entry
    if e is None:
        return None
    return {"seq": e.get("seq"), "hash": e.get("hash"), "time": e.get("time"), "kid": e.get("kid"),
            "sig": e.get("sig")}


def waivers_at(entries: list[Entry], at: datetime) -> list[Entry]:
    """The waivers granted and not expired (by a later entry) at `at`, as their waiver-granted entries."""
    active: dict[str, Entry] = {}
    for e in entries:
        if parse_time(e["time"]) > at:
            break
        key = f"{e.get('policy')}/{e.get('waiver')}"
        if e.get("type") == "waiver-granted":
            active[key] = e
        elif e.get("type") == "waiver-expired":
            active.pop(key, None)
    return [active[k] for k in sorted(active)]


def build_bundle(entries: list[Entry], v: Verification, *, start: datetime, end: datetime,
                 team: str | None) -> dict[str, Any]:
    """The bundle as a JSON-ready dict. Entries without a team (platform-wide ones) belong to every team."""

    def mine(e: Entry) -> bool:
        return team is None or e.get("team") in (team, None)

    head_at_to = next((e["hash"] for e in reversed(entries) if parse_time(e["time"]) <= end), None)
    state = sorted((e for e in state_at(entries, end).values() if mine(e)), key=lambda e: str(e.get("key")))
    window = [e for e in entries if start <= parse_time(e["time"]) <= end and mine(e)]
    return {"generatedAt": datetime.now(UTC).isoformat(), "from": start.isoformat(), "to": end.isoformat(),
            "team": team, "chainVerified": v.ok, "chainHead": v.head, "chainHeadAtTo": head_at_to,
            "brokenAtLine": v.bad_line, "problem": v.reason or None, "signedHead": signed_head(v),
            "anchorsReached": list(v.anchors), "notes": list(v.notes), "stateAtTo": state,
            "waiversAtTo": waivers_at(entries, end), "entries": window}


def load_bundle(log: Path, *, start: datetime, end: datetime, team: str | None, keys: TrustedKeys | None = None,
                anchors: list[Anchor] | None = None) -> dict[str, Any]:
    """Verify `log` (with `keys` and `anchors`) and build the bundle from what is trustworthy in it."""
    v = verify_log(log, keys=keys, anchors=anchors or [])
    return build_bundle(readable_entries(log, v), v, start=start, end=end, team=team)


def bundle_csv(rows: list[Entry], head: str) -> str:
    """CSV of `rows` in COLUMNS order; the first line is a comment with the chain head hash."""
    out = io.StringIO()
    out.write(f"# chain head {head}\n")
    w = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
    return out.getvalue()


def parse_range(from_: str, to: str) -> tuple[datetime, datetime]:
    """(start, end) from ISO 8601 strings; raises ValueError on a bad one or an empty range."""
    start, end = parse_time(from_), parse_time(to)
    if end < start:
        raise ValueError("the end of the range is before its start")
    return start, end
