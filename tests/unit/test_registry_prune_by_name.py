"""Pruning an ImageRegistry's pull Secrets without listing Secrets (CIS 5.1.2): only the namespaces its last
status says it wrote to are looked at, each Secret is read by name, and only one carrying this registry's owner
label is deleted. Written as the team whose own Secret happens to share the pull Secret's name, and as the
auditor counting the operator's Secret requests."""

from __future__ import annotations

from typing import Any

from finplane.reconcile.children import OWNER_LABEL
from finplane.reconcile.registry.pull_secrets import prune_secrets
from tests.support.fake_kube import FakeKube

UID = "registry-uid"


def secret(ns: str, name: str = "pull", owner: str | None = UID) -> dict[str, Any]:
    labels = {OWNER_LABEL: owner} if owner else {}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns, "labels": labels}}


async def test_a_namespace_that_left_the_selection_loses_the_registrys_pull_secret() -> None:
    kube = FakeKube()
    kube.put(secret("payments"), secret("kyc"))
    pruned = await prune_secrets(kube, owner_uid=UID, keep={"payments"}, name="pull", names={"pull"},
                                 candidates={"payments", "kyc"})
    assert pruned == ["kyc"]
    assert kube.find("Secret", "pull", "kyc") is None and kube.find("Secret", "pull", "payments") is not None


async def test_a_teams_own_secret_of_the_same_name_is_never_deleted() -> None:
    kube = FakeKube()
    kube.put(secret("kyc", owner=None), secret("cards", owner="another-registry"))
    assert await prune_secrets(kube, owner_uid=UID, keep=set(), name="pull", names={"pull"},
                               candidates={"kyc", "cards"}) == []
    assert kube.find("Secret", "pull", "kyc") and kube.find("Secret", "pull", "cards")


async def test_an_old_secret_name_is_removed_where_the_new_one_is_kept() -> None:
    kube = FakeKube()
    kube.put(secret("payments", "old-pull"), secret("payments", "pull"))
    assert await prune_secrets(kube, owner_uid=UID, keep={"payments"}, name="pull", names={"pull", "old-pull"},
                               candidates={"payments"}) == []
    assert kube.find("Secret", "old-pull", "payments") is None and kube.find("Secret", "pull", "payments")


async def test_pruning_never_lists_secrets_and_reads_only_candidate_namespaces() -> None:
    kube = FakeKube()
    kube.put(secret("kube-system"), secret("kyc"))
    await prune_secrets(kube, owner_uid=UID, keep=set(), name="pull", names={"pull"}, candidates={"kyc"})
    secret_calls = [c for c in kube.calls if c.kind == "Secret"]
    assert secret_calls and not [c for c in secret_calls if c.verb == "list"]
    assert kube.find("Secret", "pull", "kube-system") is not None  # never a candidate: never touched
