"""`finplane evidence register --as-of DATE` (finplane.commands.register over render.dora_register).

Covers: from manifest files the command writes the register as CSV and JSON, listing the example partner
with its contract dates and an expired sandbox with its end date, and leaving out arrangements that start
after the date; a sandbox without a recorded expiry ends at creation + ttlSeconds; a partner-written
organisation cannot smuggle a spreadsheet formula into the CSV; a bad date or a missing source exits 2.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from finplane.cli import app

API = "finplane.io/v1alpha1"
Obj = dict[str, Any]


def sandbox(name: str, created: str, *, organisation: str = "Acme Payments Ltd", status: Obj | None = None) -> Obj:
    return {"apiVersion": API, "kind": "TenantSandbox", "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"partner": {"name": name.split("--")[0], "organisation": organisation,
                                 "contact": "ops@partner.example"}, "ttlSeconds": 86400 * 10,
                     "allowedCapabilities": [{"namespace": "payments", "name": "payments-api"}]},
            "status": status or {}}


def write(tmp_path: Path, *objs: Obj) -> Path:
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump_all(list(objs)), encoding="utf-8")
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["evidence", "register", *args])


def test_the_register_lists_the_partner_and_the_expired_sandbox_with_its_end_date(tmp_path: Path) -> None:
    estate = write(tmp_path,
                   sandbox("acme--dev", "2026-03-01T00:00:00Z"),
                   sandbox("globex--old", "2026-01-01T00:00:00Z", status={"phase": "Expired",
                                                                           "expiresAt": "2026-01-05T00:00:00Z"}),
                   sandbox("initech--next", "2026-04-01T00:00:00Z"))
    result = run("--as-of", "2026-03-02", "-f", str(estate))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["arrangementId"], r["contractStart"], r["contractEnd"], r["status"]) for r in rows] == [
        ("acme--dev", "2026-03-01T00:00:00Z", "2026-03-11T00:00:00Z", "active"),
        ("globex--old", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z", "ended")]
    assert rows[0]["capabilities"] == "payments/payments-api"

    as_json = run("--as-of", "2026-03-02", "-f", str(estate), "--format", "json")
    assert [r["arrangementId"] for r in json.loads(as_json.stdout)["arrangements"]] == ["acme--dev", "globex--old"]


def test_an_arrangement_past_its_end_is_ended_on_a_later_date(tmp_path: Path) -> None:
    estate = write(tmp_path, sandbox("acme--dev", "2026-03-01T00:00:00Z"))
    rows = list(csv.DictReader(io.StringIO(run("--as-of", "2026-04-01", "-f", str(estate)).stdout)))
    assert [(r["arrangementId"], r["status"]) for r in rows] == [("acme--dev", "ended")]


def test_a_partner_written_value_never_becomes_a_spreadsheet_formula(tmp_path: Path) -> None:
    estate = write(tmp_path, sandbox("acme--dev", "2026-03-01T00:00:00Z", organisation="=HYPERLINK(\"x\")"))
    (row,) = csv.DictReader(io.StringIO(run("--as-of", "2026-03-02", "-f", str(estate)).stdout))
    assert row["organisation"] == "'=HYPERLINK(\"x\")"


def test_a_bad_date_or_no_source_exits_2_and_says_why(tmp_path: Path) -> None:
    estate = write(tmp_path, sandbox("acme--dev", "2026-03-01T00:00:00Z"))
    bad = run("--as-of", "yesterday", "-f", str(estate))
    assert bad.exit_code == 2 and "yesterday" in bad.output
    assert run("--as-of", "2026-03-02").exit_code == 2
