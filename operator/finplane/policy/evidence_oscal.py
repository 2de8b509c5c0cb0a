"""The evidence bundle as NIST OSCAL assessment-results (JSON), for auditors' tools.

Pure: `assessment_results(bundle)` turns the bundle of `evidence_bundle.load_bundle` into one OSCAL
document: one result for the period, an observation per recorded result at its end, a finding per
evaluated (rule, object) pair naming the controls the rule gives evidence for (`evidence_controls`),
each waiver in force as a risk with status `deviation-approved`, its approver, requester, ticket and
expiry (its deadline), and the chain's signed head as properties of the result, so that
`finplane evidence verify --anchor assessment-results.json` checks a log against it later.
`validate` checks a document against the OSCAL schema with compliance-trestle's models.
Called by `finplane.commands.evidence` (export) and its tests. UUIDs are derived from the chain
head, so exporting the same log twice gives the same document apart from its timestamps.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from finplane.policy.evidence_chain import GENESIS, parse_time
from finplane.policy.evidence_controls import CONTROLS, controls_for

__all__ = ["NS", "anchor_props", "assessment_results", "validate"]

NS = "https://finplane.io/ns/oscal"  # the namespace of Finplane's own property names
OSCAL_VERSION = "1.2.1"  # the OSCAL release compliance-trestle 5.2 models (a test keeps them equal)
Obj = dict[str, Any]


def _prop(name: str, value: object) -> Obj:
    return {"name": name, "ns": NS, "value": str(value).strip() or "-"}


def _time(value: str | None, fallback: datetime) -> str:
    return (parse_time(value) if value else fallback).astimezone(UTC).isoformat()


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "-"


def anchor_props(doc: Obj) -> Obj | None:
    """The signed head stored in an assessment-results document (None when it has none)."""
    for result in doc.get("assessment-results", {}).get("results", []):
        props = {p["name"]: p["value"] for p in result.get("props", []) if p.get("ns") == NS}
        if "chain-head" in props:
            return {"hash": props["chain-head"], "seq": int(props.get("chain-seq", 0)) or None,
                    "kid": props.get("chain-kid"), "sig": props.get("chain-signature")}
    return None


def assessment_results(bundle: Obj, *, now: datetime | None = None) -> Obj:
    """The OSCAL assessment-results document of `bundle` (a JSON-ready dict with the `assessment-results` root)."""
    now = now or datetime.now(UTC)
    head = bundle.get("signedHead") or {}
    base = uuid.uuid5(uuid.NAMESPACE_URL, f"{NS}/{head.get('hash') or GENESIS}/{bundle.get('to')}")

    def uid(*parts: object) -> str:
        return str(uuid.uuid5(base, "/".join(str(p) for p in parts)))

    operator = uid("party", "finplane")
    parties: list[Obj] = [{"uuid": operator, "type": "organization", "name": "Finplane compliance engine"}]
    approvers: dict[str, str] = {}

    def party(name: str) -> str:
        if name not in approvers:
            approvers[name] = uid("party", name)
            parties.append({"uuid": approvers[name], "type": "person", "name": _one_line(name)})
        return approvers[name]

    risks: list[Obj] = []
    risk_of: dict[tuple[str, str], str] = {}
    for w in bundle.get("waiversAtTo", []):
        rid = uid("risk", w.get("policy"), w.get("waiver"))
        risk_of[(str(w.get("policy")), str(w.get("waiver")))] = rid
        approver = str(w.get("approvedBy") or "unknown approver")
        props = [_prop(k, w[k]) for k in ("policy", "waiver", "rule", "ticket", "riskRating", "approvedBy",
                                          "requestedBy") if w.get(k)]
        risk: Obj = {
            "uuid": rid, "title": _one_line(f"Waiver {w.get('waiver')} of rule {w.get('rule')} ({w.get('policy')})"),
            "description": str(w.get("justification") or "no justification recorded"),
            "statement": f"Failures of rule {w.get('rule')} are accepted until {w.get('expiresAt')}, approved by "
                         f"{approver} (ticket {w.get('ticket')}).",
            "status": "deviation-approved", "props": props,
            "risk-log": {"entries": [{"uuid": uid("risk-log", rid), "title": "Risk accepted (waiver approved)",
                                      "start": _time(w.get("time"), now),
                                      "logged-by": [{"party-uuid": party(approver), "role-id": "approver"}],
                                      "status-change": "deviation-approved"}]}}
        if w.get("expiresAt"):
            risk["deadline"] = _time(str(w["expiresAt"]), now)
        risks.append(risk)

    observations: list[Obj] = []
    findings: list[Obj] = []
    reviewed: set[str] = set()
    for e in bundle.get("stateAtTo", []):
        rule, obj, result = str(e.get("rule")), str(e.get("object")), str(e.get("result"))
        oid = uid("observation", e.get("key"))
        observations.append({
            "uuid": oid, "title": _one_line(f"{rule} on {obj}: {result}"),
            "description": str(e.get("message") or f"rule {rule} evaluated {obj}: {result}"),
            "methods": ["TEST"], "types": ["finding" if result != "pass" else "control-objective"],
            "props": [_prop("rule", rule), _prop("object", obj), _prop("result", result),
                      _prop("policy", e.get("policy")), *([_prop("team", e["team"])] if e.get("team") else [])],
            "relevant-evidence": [{"description": f"evidence log entry seq {e.get('seq')}, hash {e.get('hash')}"}],
            "collected": _time(e.get("time"), now)})
        waived = bool(e.get("waiver"))
        if result == "skip" and not waived:
            continue  # not evaluated (rule not applicable): an observation, not a finding
        controls = controls_for(rule)
        reviewed.update(c.id for c in controls)
        finding: Obj = {
            "uuid": uid("finding", e.get("key")), "title": _one_line(f"{rule} on {obj}"),
            "description": str(e.get("message") or result),
            "props": [_prop("control-id", c.id) for c in controls] + [_prop("object", obj), _prop("result", result)],
            "target": {"type": "objective-id", "target-id": f"{rule}_obj",
                       "status": {"state": "satisfied" if result == "pass" else "not-satisfied"}},
            "related-observations": [{"observation-uuid": oid}]}
        risk_id = risk_of.get((str(e.get("policy")), str(e.get("waiver"))))
        if waived and risk_id:
            finding["related-risks"] = [{"risk-uuid": risk_id}]
        findings.append(finding)

    selected = sorted(reviewed) or sorted(CONTROLS)
    result_doc: Obj = {
        "uuid": uid("result"), "title": _one_line(f"Finplane continuous compliance, {bundle.get('from')} to "
                                                  f"{bundle.get('to')}"),
        "description": "Results recorded by Finplane's compliance engine in its signed, hash-chained evidence log"
                       + (f" for team {bundle['team']}" if bundle.get("team") else "") + ".",
        "start": _time(bundle.get("from"), now), "end": _time(bundle.get("to"), now),
        "props": [_prop("chain-verified", str(bool(bundle.get("chainVerified"))).lower()),
                  _prop("chain-head", head.get("hash") or bundle.get("chainHead") or GENESIS),
                  *([_prop("chain-seq", head["seq"]), _prop("chain-kid", head["kid"]),
                     _prop("chain-signature", head["sig"])] if head.get("sig") else [])],
        "reviewed-controls": {"control-selections": [{"include-controls": [{"control-id": c} for c in selected]}]},
    }
    for key, items in (("observations", observations), ("risks", risks), ("findings", findings)):
        if items:
            result_doc[key] = items
    return {"assessment-results": {
        "uuid": uid("assessment-results"),
        "metadata": {"title": "Finplane compliance evidence", "last-modified": now.astimezone(UTC).isoformat(),
                     "version": str(head.get("seq") or 0), "oscal-version": OSCAL_VERSION,
                     "roles": [{"id": "assessor", "title": "Automated assessor"},
                               {"id": "approver", "title": "Waiver approver"}],
                     "parties": parties,
                     "responsible-parties": [{"role-id": "assessor", "party-uuids": [operator]}]},
        "import-ap": {"href": f"{NS}/assessment-plan/continuous-compliance"},
        "results": [result_doc]}}


def validate(doc: Obj) -> None:
    """Raise ValueError unless `doc` is valid OSCAL assessment-results (compliance-trestle's models)."""
    from pydantic import ValidationError
    from trestle.oscal.assessment_results import AssessmentResults  # heavy: only when exporting

    try:
        AssessmentResults.model_validate(doc["assessment-results"])
    except (ValidationError, KeyError) as exc:
        raise ValueError(f"not valid OSCAL assessment-results: {exc}") from None
