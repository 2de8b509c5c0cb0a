"""Which ImageRegistries a ServiceAccount event re-enqueues, and which accounts a registry wired earlier.

Covers: an account event re-enqueues only the registries naming that account whose entry it lacks (our
own patch's echo enqueues nothing, an account nobody names costs nothing); the index of accounts by pull
Secret follows additions, removals and deletions, so a registry finds the accounts it must unwire.
"""

from __future__ import annotations

from typing import Any

from support.fake_kube import FakeKube

from finplane.reconcile.registry import KIND, RegistryReconciler, ServiceAccountRefs
from finplane.reconcile.runtime import Runtime
from finplane.settings import Settings

Obj = dict[str, Any]


class RecordingRuntime(Runtime):
    """The real runtime's stores with enqueue recorded instead of fed to work queues."""

    def __init__(self) -> None:
        super().__init__(kube=FakeKube(), settings=Settings())  # type: ignore[arg-type]
        self.enqueued: list[tuple[str, tuple[str, str]]] = []
        self.registry = RegistryReconciler(self)
        self.add(self.registry)

    def enqueue(self, kind: str, key: tuple[str, str], *, delay: float = 0.0) -> None:
        self.enqueued.append((kind, key))


def registry(name: str, accounts: list[str]) -> Obj:
    return {"metadata": {"name": name}, "spec": {"serviceAccounts": accounts},
            "status": {"secretName": f"{name}-pull"}}


def account(name: str, *secrets: str, namespace: str = "payments") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace}, "imagePullSecrets": [{"name": s} for s in secrets]}


def service_account_event(rt: Runtime, event: str, body: Obj) -> None:
    rt.observe("ServiceAccount", event, body)  # what handlers.registry_watch does with each event


def service_account_refs(rt: RecordingRuntime) -> ServiceAccountRefs:
    return rt.registry.accounts


def runtime() -> RecordingRuntime:
    rt = RecordingRuntime()
    rt.stores[KIND] = {("", "harbor"): registry("harbor", ["builder"]), ("", "ecr"): registry("ecr", ["default"])}
    return rt


def test_a_new_named_account_without_the_entry_re_enqueues_only_the_registry_naming_it() -> None:
    rt = runtime()
    service_account_event(rt, "ADDED", account("builder", "someone-elses"))
    assert rt.enqueued == [(KIND, ("", "harbor"))]


def test_an_account_already_wired_or_named_by_nobody_enqueues_nothing() -> None:
    rt = runtime()
    service_account_event(rt, "MODIFIED", account("builder", "someone-elses", "harbor-pull"))
    service_account_event(rt, "ADDED", account("ci-runner"))
    service_account_event(rt, "DELETED", account("builder"))
    assert rt.enqueued == []


def test_the_index_knows_which_accounts_hold_a_pull_secret_as_they_change() -> None:
    rt = runtime()
    service_account_event(rt, "ADDED", account("builder", "harbor-pull"))
    service_account_event(rt, "ADDED", account("deployer", "harbor-pull", "other"))
    service_account_event(rt, "ADDED", account("deployer", "harbor-pull", namespace="cards"))
    refs = service_account_refs(rt)
    assert refs.holders("harbor-pull", "payments") == {"builder", "deployer"}
    service_account_event(rt, "MODIFIED", account("deployer", "other"))
    service_account_event(rt, "DELETED", account("builder", "harbor-pull"))
    assert refs.holders("harbor-pull", "payments") == set()
    assert refs.holders("other", "payments") == {"deployer"}
    assert refs.holders("harbor-pull", "cards") == {"deployer"}
