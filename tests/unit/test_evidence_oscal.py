"""The OSCAL assessment-results export and the rule-to-control mapping behind it.

Covers: `finplane evidence export` writes assessment-results.json that validates against the OSCAL
schema (compliance-trestle's models) and declares the OSCAL version those models are; every failing
result (and every waived one) is a not-satisfied finding naming at least one control, and every
control it names is among the reviewed controls; a passing result is a satisfied finding; a waiver
in force is a risk accepted (`deviation-approved`) with its approver as the party who logged it,
its requester, ticket and expiry as deadline, and the waived finding points to it; an expired
waiver is no longer a risk; the document carries the chain's signed head, so a later verify checks
a log against it; every rule of the library maps to DORA, PCI DSS 4.0 and ISO/IEC 27001:2022
controls, all of which are known and are valid OSCAL tokens; docs/compliance.md lists the mapping.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trestle.oscal
from trestle.oscal.assessment_results import AssessmentResults

from finplane.commands.evidence import export, verify
from finplane.policy.evidence import EvidenceLog
from finplane.policy.evidence_controls import CONTROLS, RULE_CONTROLS
from finplane.policy.evidence_oscal import NS, OSCAL_VERSION, validate
from finplane.policy.library import RULES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "compliance.md"


@pytest.fixture(autouse=True)
def _no_configured_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINPLANE_EVIDENCE_KEY_FILE", raising=False)


def at(day: int) -> datetime:
    return datetime(2026, 3, day, tzinfo=UTC)


def result(rule: str, obj: str, res: str, **extra: Any) -> dict[str, Any]:
    return {"type": "result", "key": f"baseline|{rule}|{obj}", "policy": "baseline", "rule": rule, "object": obj,
            "team": "payments", "result": res, "message": f"{rule} said {res}", **extra}


@pytest.fixture
def exported(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    log = EvidenceLog(tmp_path / "evidence.jsonl")
    log.append(result("no-latest-tag", "BusinessCapability/payments/api", "fail"), now=at(1))
    log.append(result("run-as-non-root", "BusinessCapability/payments/api", "pass"), now=at(1))
    log.append(result("default-deny-network", "TenantSandbox/acme", "fail"), now=at(2))
    log.append(result("owner-labels-present", "Channel/mobile", "skip"), now=at(2))  # not applicable
    for name, rule, until in (("tags-ok", "no-latest-tag", "2026-06-01T00:00:00+00:00"),
                              ("old", "minimum-replicas", "2026-03-04T00:00:00+00:00")):
        log.append({"type": "waiver-granted", "policy": "baseline", "waiver": name, "rule": rule, "ticket": "RISK-7",
                    "approvedBy": "ada", "requestedBy": "pat", "riskRating": "low", "expiresAt": until,
                    "justification": "vendor image only has latest"}, now=at(3))
    log.append({"type": "waiver-expired", "policy": "baseline", "waiver": "old", "rule": "minimum-replicas"},
               now=at(4))
    log.append(result("no-latest-tag", "BusinessCapability/payments/api", "skip", waiver="tags-ok"), now=at(5))
    out = tmp_path / "audit"
    assert export(log.path, "2026-03-01", "2026-03-31", None, out) == 0
    return json.loads((out / "assessment-results.json").read_text()), log.path


def the_result(doc: dict[str, Any]) -> dict[str, Any]:
    results: list[dict[str, Any]] = doc["assessment-results"]["results"]
    assert len(results) == 1
    return results[0]


def props(item: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in item.get("props", []) if p["name"] == name and p.get("ns") == NS]


def test_the_export_validates_against_the_oscal_schema(exported: tuple[dict[str, Any], Path]) -> None:
    doc, _ = exported
    AssessmentResults.model_validate(doc["assessment-results"])  # raises when it is not OSCAL
    validate(doc)
    assert doc["assessment-results"]["metadata"]["oscal-version"] == OSCAL_VERSION == trestle.oscal.OSCAL_VERSION
    broken = json.loads(json.dumps(doc))
    del the_result(broken)["reviewed-controls"]
    with pytest.raises(ValueError, match="not valid OSCAL"):
        validate(broken)


def test_every_failing_result_is_a_finding_that_maps_to_a_reviewed_control(
        exported: tuple[dict[str, Any], Path]) -> None:
    res = the_result(exported[0])
    reviewed = {c["control-id"] for sel in res["reviewed-controls"]["control-selections"]
                for c in sel["include-controls"]}
    failing = [f for f in res["findings"] if f["target"]["status"]["state"] == "not-satisfied"]
    assert sorted(props(f, "object")[0] + " " + props(f, "result")[0] for f in failing) == [
        "BusinessCapability/payments/api skip", "TenantSandbox/acme fail"]  # the skip is the waived failure
    for f in failing:
        controls = props(f, "control-id")
        assert controls and set(controls) <= reviewed and set(controls) <= set(CONTROLS)
    frameworks = {CONTROLS[c].framework for f in failing for c in props(f, "control-id")}
    assert frameworks == {"DORA", "PCI DSS 4.0", "ISO/IEC 27001:2022"}
    passing = [f for f in res["findings"] if f["target"]["status"]["state"] == "satisfied"]
    assert [props(f, "object") for f in passing] == [["BusinessCapability/payments/api"]]
    assert not any(props(f, "object") == ["Channel/mobile"] for f in res["findings"])  # not applicable: no finding
    assert len(res["observations"]) == 4


def test_a_waiver_in_force_is_an_accepted_risk_with_its_approver_and_expiry(
        exported: tuple[dict[str, Any], Path]) -> None:
    doc, _ = exported
    res = the_result(doc)
    assert [props(r, "waiver") for r in res["risks"]] == [["tags-ok"]]  # the expired one is no longer accepted
    risk = res["risks"][0]
    assert risk["status"] == "deviation-approved" and risk["deadline"].startswith("2026-06-01")
    assert (props(risk, "approvedBy"), props(risk, "requestedBy"), props(risk, "ticket")) == (["ada"], ["pat"],
                                                                                            ["RISK-7"])
    logged = risk["risk-log"]["entries"][0]["logged-by"][0]
    parties = {p["uuid"]: p["name"] for p in doc["assessment-results"]["metadata"]["parties"]}
    assert (parties[logged["party-uuid"]], logged["role-id"]) == ("ada", "approver")
    waived = next(f for f in res["findings"] if props(f, "result") == ["skip"])
    assert waived["related-risks"] == [{"risk-uuid": risk["uuid"]}]


def test_the_document_carries_the_signed_head_a_later_verify_checks_against(
        exported: tuple[dict[str, Any], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc, log = exported
    head = json.loads(log.read_text().splitlines()[-1])
    res = the_result(doc)
    assert (props(res, "chain-head"), props(res, "chain-seq"), props(res, "chain-signature")) == (
        [head["hash"]], [str(head["seq"])], [head["sig"]])
    oscal = tmp_path / "audit" / "assessment-results.json"
    assert verify(log, anchor=[oscal]) == 0
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines()[:-2]))
    capsys.readouterr()
    assert verify(log, anchor=[oscal]) == 1
    assert f"does not reach the head recorded in {oscal} (seq {head['seq']}" in capsys.readouterr().out


TOKEN = re.compile(r"^[_A-Za-z][_A-Za-z0-9.-]*$")


def test_every_rule_of_the_library_maps_to_controls_of_all_three_frameworks() -> None:
    assert set(RULE_CONTROLS) == set(RULES)
    for rule, ids in RULE_CONTROLS.items():
        assert set(ids) <= set(CONTROLS), rule
        assert {CONTROLS[c].framework for c in ids} >= {"DORA", "ISO/IEC 27001:2022"}, rule
    assert all(TOKEN.match(c) for c in CONTROLS)


def test_the_compliance_docs_list_the_mapping_of_every_rule() -> None:
    text = DOCS.read_text()
    for rule, ids in RULE_CONTROLS.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{rule}` |")), None)
        assert row is not None, f"docs/compliance.md has no control-mapping row for {rule}"
        cells = {ref.strip() for cell in row.split("|")[2:] for ref in cell.split(",")} - {"", "—"}
        assert cells == {CONTROLS[c].reference for c in ids}, rule
