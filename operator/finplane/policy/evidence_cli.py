"""`finplane evidence verify` and `finplane evidence export`: what auditors run.

verify walks the hash chain and names the first tampered line (exit 1). export writes a
point-in-time bundle: the state of every result at `--to` ("what was true on date X"), the
entries between `--from` and `--to`, optionally for one team, as JSON and CSV, with the chain's
head hash and whether the chain verified (built by `finplane.policy.evidence_bundle`).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from finplane.policy.evidence import parse_time, verify_log
from finplane.policy.evidence_bundle import COLUMNS, bundle_csv, load_bundle
from finplane.settings import get_settings

__all__ = ["COLUMNS", "LOG_NAME", "default_log", "export", "verify"]

LOG_NAME = "evidence.jsonl"


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


def export(path: Path | None, from_: str, to: str, team: str | None, out: Path) -> int:
    log = default_log(path)
    try:
        start, end = parse_time(from_), parse_time(to)
    except ValueError as exc:
        typer.echo(f"bad --from/--to: {exc}", err=True)
        return 2
    bundle = load_bundle(log, start=start, end=end, team=team)
    head = bundle["chainHead"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "bundle.json").write_text(json.dumps(bundle, indent=2, sort_keys=True), encoding="utf-8")
    (out / "state.csv").write_text(bundle_csv(bundle["stateAtTo"], head), encoding="utf-8")
    (out / "entries.csv").write_text(bundle_csv(bundle["entries"], head), encoding="utf-8")
    ok, bad = bundle["chainVerified"], bundle["brokenAtLine"]
    typer.echo(f"exported {len(bundle['stateAtTo'])} results as of {end.isoformat()} and {len(bundle['entries'])} "
               f"entries to {out} (chain {'verified' if ok else 'BROKEN at line ' + str(bad)}, head {head})")
    return 0 if ok else 1
