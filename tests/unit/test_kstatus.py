"""The kstatus conditions derived from Finplane's own (status.kstatus), as Flux and `kstatus` read them.

Covers: Ready=True carries neither Reconciling nor Stalled (Current); Ready=Unknown, a rollout in progress
and a "not there yet" reason are Reconciling=True (InProgress) with Ready's reason; a refusal a person must fix
is Stalled=True (Failed) with Ready's reason and message; a reconciler's own stale Reconciling/Stalled is
replaced, never duplicated; objects without Ready get nothing.
"""

from __future__ import annotations

from finplane.status.conditions import Cond
from finplane.status.kstatus import with_kstatus


def types(conds: list[Cond]) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in conds}


def test_ready_objects_carry_neither_condition() -> None:
    assert types(with_kstatus([Cond("Ready", "True", "Ready")])) == {"Ready": ("True", "Ready")}


def test_an_object_still_on_its_way_is_reconciling() -> None:
    rolling = [Cond("Ready", "False", "ReplicasNotReady", "0/2"), Cond("Progressing", "True", "RollingOut")]
    assert types(with_kstatus(rolling))["Reconciling"] == ("True", "ReplicasNotReady")
    assert "Stalled" not in types(with_kstatus(rolling))
    assert types(with_kstatus([Cond("Ready", "Unknown", "Reconciling")]))["Reconciling"] == ("True", "Reconciling")
    waiting = [Cond("Ready", "False", "DependenciesNotReady", "kyc not Ready")]
    assert "Reconciling" in types(with_kstatus(waiting))


def test_a_refusal_is_stalled_with_readys_reason_and_message() -> None:
    refused = [Cond("Ready", "False", "PrivilegedPort", "use a port above 1023"),
               Cond("Progressing", "False", "PrivilegedPort", "nothing is applied until the spec is fixed")]
    out = {c.type: c for c in with_kstatus(refused)}
    assert (out["Stalled"].status, out["Stalled"].reason, out["Stalled"].message) == \
        ("True", "PrivilegedPort", "use a port above 1023")
    assert "Reconciling" not in out


def test_a_stale_pair_is_replaced_not_duplicated() -> None:
    conds = [Cond("Ready", "True", "Ready"), Cond("Stalled", "True", "Old"), Cond("Reconciling", "True", "Old")]
    assert [c.type for c in with_kstatus(conds)] == ["Ready"]


def test_conditions_without_ready_get_nothing() -> None:
    assert with_kstatus([Cond("Compliant", "False", "RulesFailing")]) == [Cond("Compliant", "False", "RulesFailing")]
