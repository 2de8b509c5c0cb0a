"""Conditions keep their transition time unless the status flips; the desired-vs-live diff ignores server additions.

Covers: merge_conditions (lastTransitionTime moves only on flips, observedGeneration), the Ready summary,
and `differences` (server defaults and status are not drift; a changed field is named by its path).
"""

from __future__ import annotations

from finplane.reconcile.diff import differences
from finplane.status.conditions import Cond, merge_conditions, summarize_ready


def test_transition_time_moves_only_when_the_status_flips() -> None:
    first = merge_conditions([], [Cond("Ready", "False", "RollingOut", "1/2")], generation=1, now="T1")
    same = merge_conditions(first, [Cond("Ready", "False", "RollingOut", "2/3")], generation=2, now="T2")
    flipped = merge_conditions(same, [Cond("Ready", "True", "Ready", "")], generation=2, now="T3")
    assert same[0]["lastTransitionTime"] == "T1" and same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "T3"


def test_ready_summarises_the_first_failing_gate() -> None:
    r = summarize_ready([Cond("A", "True", "Ok"), Cond("B", "False", "Broken", "fix B")], gates=("A", "B"))
    assert (r.status, r.reason, r.message) == ("False", "Broken", "fix B")
    assert summarize_ready([Cond("A", "True", "Ok")], gates=("A",)).status == "True"


def test_server_defaults_and_status_are_not_differences() -> None:
    desired = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "labels": {"a": "1"}},
               "spec": {"ports": [{"port": 80, "targetPort": "http"}]}}
    live = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "labels": {"a": "1"}, "uid": "u", "resourceVersion": "9"},
            "spec": {"ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}], "clusterIP": "10.0.0.1"},
            "status": {"loadBalancer": {}}}
    assert differences(desired, live) == []


def test_a_changed_field_is_named_by_its_path() -> None:
    desired = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "a:1"}]}}}}
    live = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "a:2"}]}}}}
    assert differences(desired, live) == ["spec.template.spec.containers[0].image"]
