"""The example Teams own the example capabilities: what `finplane dev` and the chart (ownership enforced) rely on.

Covers: every capability of examples/ is in a namespace one example Team lists, names that Team in owner.team,
passes the Team's allowed registries and classifications, and the team quota admits all of them; no example
Team lists a namespace that is never a team's; the hand-labelled namespaces are labelled for the Team that
adopts them (the documented migration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.team import TeamSpec
from finplane.render.team_checks import admit, check_allowed, namespace_plan, use_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOCS = [d for p in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
TEAMS = {d["metadata"]["name"]: TeamSpec.model_validate(d["spec"]) for d in DOCS if d["kind"] == "Team"}
CAPS = [d for d in DOCS if d["kind"] == "BusinessCapability"]


def team_of(namespace: str) -> str:
    owners = [name for name, spec in TEAMS.items() if namespace in spec.namespaces]
    assert len(owners) == 1, f"namespace {namespace} is listed by {owners}"
    return owners[0]


def test_the_three_teams_adopt_their_hand_labelled_namespaces() -> None:
    labels: dict[str, dict[str, str] | None] = {d["metadata"]["name"]: d["metadata"].get("labels") or {}
                                                for d in DOCS if d["kind"] == "Namespace"}
    assert sorted(TEAMS) == ["kyc", "onboarding", "payments"]
    for name, spec in TEAMS.items():
        plan = namespace_plan(name=name, spec=spec, teams=[], live_labels=labels, own_namespace=None)
        assert [d.state for d in plan] == ["Adopted"] * len(spec.namespaces), plan


def test_every_example_capability_is_admitted_by_its_namespaces_team() -> None:
    uses: dict[str, list[Any]] = {}
    for body in CAPS:
        ns = body["metadata"]["namespace"]
        team = team_of(ns)
        spec = BusinessCapabilitySpec.model_validate(body["spec"])
        assert spec.owner.team == team
        assert check_allowed(team=team, spec=TEAMS[team], capability=spec) is None
        uses.setdefault(team, []).append(use_of(key=(ns, body["metadata"]["name"]), created="", spec=spec,
                                                default_cpu="100m", default_memory="128Mi"))
    assert sorted(uses) == ["kyc", "onboarding", "payments"]
    for team, team_uses in uses.items():
        assert admit(team=team, quota=TEAMS[team].quota, uses=team_uses).refused == {}
