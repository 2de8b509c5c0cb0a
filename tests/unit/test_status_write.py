"""Status writes and their events: only on change, one Warning per new problem, none for normal transitions.

Covers: an unchanged status is not written; a problem reason posts one Warning event even when Ready repeats
the failing gate's reason; a new Deployment that is not available yet (ReplicasNotReady) posts none; the same
problem seen again posts nothing more.
"""

from __future__ import annotations

from typing import Any

from support.fake_kube import FakeKube

from finplane.reconcile.status_write import write_status
from finplane.status.conditions import Cond


def body(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": "a", "namespace": "n", "uid": "u", "generation": 1}, "status": status or {}}


async def test_a_problem_posts_one_warning_even_when_ready_repeats_its_reason() -> None:
    kube = FakeKube()
    conds = [Cond("Ready", "False", "RegistryNotFound", "create it"),
             Cond("ImagePullAccess", "False", "RegistryNotFound", "create it")]
    assert await write_status(kube, body(), conditions=conds, fields={})  # type: ignore[arg-type]
    assert [e["reason"] for e in kube.events] == ["RegistryNotFound"]


async def test_a_rollout_in_progress_is_not_a_warning() -> None:
    kube = FakeKube()
    await write_status(kube, body(), conditions=[Cond("Ready", "False", "ReplicasNotReady", "0/2")],  # type: ignore[arg-type]
                       fields={})
    assert kube.events == [] and len(kube.statuses()) == 1


async def test_an_unchanged_status_is_neither_written_nor_announced_again() -> None:
    kube = FakeKube()
    conds = [Cond("Ready", "False", "NameConflict", "rename")]
    await write_status(kube, body(), conditions=conds, fields={"replicas": 2})  # type: ignore[arg-type]
    written = kube.statuses()[0]
    again = FakeKube()
    assert not await write_status(again, body(written), conditions=conds, fields={"replicas": 2})  # type: ignore[arg-type]
    assert again.statuses() == [] and again.events == []
