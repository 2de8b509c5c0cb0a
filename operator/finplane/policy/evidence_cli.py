"""`finplane evidence verify` and `finplane evidence export`: what auditors run.

verify walks the hash chain and names the first tampered line (exit 1). export writes a
point-in-time bundle: the state of every result at `--to` ("what was true on date X"), the
entries between `--from` and `--to`, optionally for one team, as JSON and CSV, with the chain's
head hash and whether the chain verified.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from finplane.policy.evidence import parse_time, read_entries, state_at, verify_log
from finplane.settings import get_settings

__all__ = ["LOG_NAME", "default_log", "export", "verify"]

LOG_NAME = "evidence.jsonl"
COLUMNS = ["seq", "time", "type", "policy", "rule", "object", "team", "result", "previous", "message",
           "waiver", "hash"]


def default_log(path: Path | None) -> Path:
    return path if path is not None else Path(get_settings().evidence_dir) / LOG_NAME


def verify(path: Path | None) -> int:
    log = default_log(path)
    if not log.exists():
        typer.echo(f"{log}: no evidence log", err=True)
        return 2
    v = verify_log(log)
    if v.ok:
        typer.echo(f"{log}: OK, {v.entries} entries, head {v.head}")
        return 0
    typer.echo(f"{log}: TAMPERED at line {v.bad_line}: {v.reason} ({v.entries} entries verified before it)")
    return 1


def _write_csv(path: Path, rows: list[dict[str, object]], head: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write(f"# chain head {head}\n")
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})


def export(path: Path | None, from_: str, to: str, team: str | None, out: Path) -> int:
    log = default_log(path)
    try:
        start, end = parse_time(from_), parse_time(to)
    except ValueError as exc:
        typer.echo(f"bad --from/--to: {exc}", err=True)
        return 2
    v = verify_log(log)
    entries = [e for _, e in read_entries(log)] if v.ok or v.bad_line is None else \
        [e for n, e in _readable(log) if n < v.bad_line]
    head_at_to = next((e["hash"] for e in reversed(entries) if parse_time(e["time"]) <= end), None)

    def mine(e: dict[str, object]) -> bool:
        return team is None or e.get("team") in (team, None)

    state = sorted((e for e in state_at(entries, end).values() if mine(e)), key=lambda e: str(e.get("key")))
    window = [e for e in entries if start <= parse_time(e["time"]) <= end and mine(e)]
    out.mkdir(parents=True, exist_ok=True)
    bundle = {"generatedAt": datetime.now(UTC).isoformat(), "from": start.isoformat(), "to": end.isoformat(),
              "team": team, "chainVerified": v.ok, "chainHead": v.head, "chainHeadAtTo": head_at_to,
              "stateAtTo": state, "entries": window}
    (out / "bundle.json").write_text(json.dumps(bundle, indent=2, sort_keys=True), encoding="utf-8")
    _write_csv(out / "state.csv", state, v.head)  # type: ignore[arg-type]
    _write_csv(out / "entries.csv", window, v.head)  # type: ignore[arg-type]
    typer.echo(f"exported {len(state)} results as of {end.isoformat()} and {len(window)} entries to {out} "
               f"(chain {'verified' if v.ok else 'BROKEN at line ' + str(v.bad_line)}, head {v.head})")
    return 0 if v.ok else 1


def _readable(log: Path) -> list[tuple[int, dict[str, object]]]:
    out = []
    try:
        for n, e in read_entries(log):
            out.append((n, e))
    except ValueError:
        pass
    return out
