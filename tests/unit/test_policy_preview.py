"""The preview and the roll-up: `refusals` lists exactly the capabilities the enforcement hook refuses
(an audit policy treated as enforced, waivers honoured), and the `Compliant` condition names failing rules.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from policy_fixtures import DIGEST, capability, channel  # noqa: E402

from finplane.policy.engine import Result  # noqa: E402
from finplane.policy.preview import refusals  # noqa: E402
from finplane.reconcile.compliance.rollup import compliant_condition  # noqa: E402

POLICY = {"metadata": {"name": "gate"}, "spec": {"mode": "audit", "rules": [
    {"id": "allowed-registries", "parameters": {"registries": ["registry.finplane.local"]}},
    {"id": "data-classification-isolation"}]}}


def test_the_preview_lists_only_the_capabilities_an_enforced_policy_would_refuse() -> None:
    caps = [capability("ok"), capability("foreign", image=f"docker.io/x/y@{DIGEST}"),
            capability("secret", dataClassification="restricted")]
    refused = refusals(POLICY, caps, [channel(targets=[("payments", "secret")])])
    assert {(c["metadata"]["name"], tuple(r for r, _ in v)) for c, v in refused} == {
        ("foreign", ("allowed-registries",)), ("secret", ("data-classification-isolation",))}


def _r(rule: str, result: str) -> Result:
    return Result(policy="gate", rule=rule, category="c", severity="high", kind="BusinessCapability",
                  namespace="payments", name="x", team="payments", result=result, message="m", resource=())


def test_the_compliant_condition_lists_failing_rules_and_mentions_waivers() -> None:
    bad = compliant_condition([_r("no-latest-tag", "fail"), _r("run-as-non-root", "pass")])
    assert (bad.status, bad.reason) == ("False", "RulesFailing") and "no-latest-tag (gate)" in bad.message
    waived = compliant_condition([_r("image-digest-pinned", "skip")])
    assert (waived.status, waived.reason) == ("True", "CompliantWithWaivers")
