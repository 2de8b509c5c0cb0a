"""The Team reconciler and the capability-side team checks, at Finplane's gateway seam (tests/support/fake_kube).

Covers: a Team pass creates its missing namespace under its own field manager without an owner reference,
applies the guard rails and bindings, and reports namespaces and usage; a second, unchanged pass writes nothing;
a namespace in kube-system is refused and nothing is written there; a capability whose owner.team disagrees with
its namespace's Team is refused (TeamMismatch) with nothing applied; in enforce mode a capability in a namespace
no Team holds is refused (TeamNotFound), while one whose Team has not reconciled yet waits without a condition;
the refusals are not terminal: deleting another capability of the team wakes the refused one.
"""

from __future__ import annotations

from typing import Any

from finplane.handlers.registrations import register_all
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.team import TEAM_FIELD_MANAGER
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube

API = "finplane.io/v1alpha1"
Obj = dict[str, Any]


def runtime(**settings: Any) -> tuple[Runtime, FakeKube]:
    kube = FakeKube()
    rt = Runtime(kube=kube, settings=Settings(registry_prune_grace_seconds=0, **settings))  # type: ignore[arg-type]
    register_all(rt)
    for controller in rt.controllers.values():
        controller.queue.enqueue = lambda key, *, delay=0.0: None  # type: ignore[method-assign]
    return rt, kube


def add(rt: Runtime, *bodies: Obj) -> None:
    for body in bodies:
        meta = body["metadata"]
        meta.setdefault("uid", f"{body['kind'].lower()}-{meta['name']}-uid")
        meta.setdefault("generation", 1)
        meta.setdefault("resourceVersion", "1")
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        rt.stores.setdefault(body["kind"], {})[(meta.get("namespace") or "", meta["name"])] = body


def team(name: str, namespaces: list[str], *, held: bool = False, **spec: Any) -> Obj:
    body: Obj = {"apiVersion": API, "kind": "Team", "metadata": {"name": name, "finalizers": ["finplane.io/team-namespaces"]},
                 "spec": {"displayName": name, "contact": {"email": f"{name}@bank.example"},
                          "owners": [{"kind": "Group", "name": f"{name}-leads"}], "namespaces": namespaces, **spec}}
    if held:
        body["status"] = {"observedGeneration": 1, "namespaces": [{"name": n, "state": "Adopted"} for n in namespaces]}
    return body


def capability(name: str, ns: str, *, owner: str | None = None, created: str = "2026-01-02T00:00:00Z") -> Obj:
    return {"apiVersion": API, "kind": "BusinessCapability",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": created},
            "spec": {"owner": {"team": owner or ns, "contact": "x@bank.example"}, "domain": "payments",
                     "image": f"registry.finplane.local/{ns}/{name}:1.0", "replicas": 1}}


async def run(rt: Runtime, kind: str, key: Key) -> None:
    await rt.controllers[kind].reconcile_once(key)


def ready(kube: FakeKube, kind: str) -> Obj:
    return kube.last_conditions(kind).get("Ready") or {}


async def test_a_team_pass_creates_its_namespace_without_owner_and_reports_namespaces_and_usage() -> None:
    rt, kube = runtime()
    add(rt, team("payments", ["payments"]))
    await run(rt, "Team", ("", "payments"))
    ns = kube.find("Namespace", "payments")
    assert ns is not None and ns["metadata"]["labels"]["finplane.io/team"] == "payments"
    assert "ownerReferences" not in ns["metadata"]
    assert [c.field_manager for c in kube.writes("Namespace")] == [TEAM_FIELD_MANAGER]
    for kind, name in (("NetworkPolicy", "team-default-deny"), ("ResourceQuota", "team-quota"),
                       ("LimitRange", "team-limits"), ("RoleBinding", "team-owners")):
        assert kube.find(kind, name, "payments") is not None, kind
    status = kube.statuses("Team")[-1]
    assert status["namespaces"] == [{"name": "payments", "state": "Created", "capabilities": 0}]
    assert status["usage"] == {"cpu": "0", "memory": "0", "pods": 0, "capabilities": 0}
    assert ready(kube, "Team")["status"] == "True"
    body = rt.stores["Team"][("", "payments")]
    body["status"] = {**status, "observedGeneration": 1}
    before = len(kube.writes())
    await run(rt, "Team", ("", "payments"))
    assert kube.writes()[before:] == []  # an unchanged Team writes nothing


async def test_a_team_never_takes_kube_system_and_writes_nothing_there() -> None:
    rt, kube = runtime()
    kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    add(rt, team("evil", ["kube-system"]))
    await run(rt, "Team", ("", "evil"))
    assert ready(kube, "Team")["reason"] == "NamespaceRefused"
    assert "finplane.io/team" not in (kube.find("Namespace", "kube-system")["metadata"].get("labels") or {})  # type: ignore[index]
    assert [c for c in kube.writes() if c.kind not in ("Team", "Event")] == []


async def test_owner_team_spoofing_is_refused_and_nothing_applied() -> None:
    rt, kube = runtime()
    add(rt, team("payments", ["payments"], held=True), capability("spoof", "payments", owner="kyc"))
    await run(rt, "BusinessCapability", ("payments", "spoof"))
    assert ready(kube, "BusinessCapability")["reason"] == "TeamMismatch"
    assert [c for c in kube.writes() if c.kind not in ("BusinessCapability", "Event")] == []


async def test_in_enforce_mode_a_namespace_no_team_holds_refuses_and_a_team_not_yet_reconciled_waits() -> None:
    rt, kube = runtime(team_ownership="enforce")
    add(rt, capability("stray", "orphan"))
    await run(rt, "BusinessCapability", ("orphan", "stray"))
    assert ready(kube, "BusinessCapability")["reason"] == "TeamNotFound"
    rt2, kube2 = runtime(team_ownership="enforce")
    add(rt2, team("payments", ["payments"]), capability("early", "payments"))
    await run(rt2, "BusinessCapability", ("payments", "early"))
    assert kube2.writes() == []  # no TeamNotFound flash while the Team provisions the namespace


async def test_in_migrate_mode_a_namespace_no_team_holds_runs_as_before_but_never_kube_system() -> None:
    rt, kube = runtime()
    add(rt, capability("legacy", "legacy"), capability("evil", "kube-system", owner="kube-system"))
    await run(rt, "BusinessCapability", ("legacy", "legacy"))
    assert kube.find("Deployment", "legacy", "legacy") is not None
    await run(rt, "BusinessCapability", ("kube-system", "evil"))
    assert kube.find("Deployment", "evil", "kube-system") is None
    assert ready(kube, "BusinessCapability")["reason"] == "TeamNotFound"


async def test_deleting_another_capability_of_the_team_wakes_the_refused_one() -> None:
    rt, kube = runtime()
    woken: list[tuple[str, Key]] = []
    rt.enqueue = lambda kind, key, *, delay=0.0: woken.append((kind, key))  # type: ignore[method-assign]
    add(rt, team("payments", ["payments"], held=True, quota={"capabilities": 1}),
        capability("first", "payments", created="2026-01-02T00:00:00Z"),
        capability("second", "payments", created="2026-01-03T00:00:00Z"))
    await run(rt, "BusinessCapability", ("payments", "second"))
    refused = ready(kube, "BusinessCapability")
    assert refused["reason"] == "QuotaExceeded" and "over by 1" in refused["message"]
    assert kube.find("Deployment", "second", "payments") is None
    rt.observe("BusinessCapability", "DELETED", rt.stores["BusinessCapability"][("payments", "first")])
    assert ("BusinessCapability", ("payments", "second")) in woken
    await run(rt, "BusinessCapability", ("payments", "second"))
    assert kube.find("Deployment", "second", "payments") is not None


async def test_a_namespace_dropped_from_the_spec_is_released_with_its_bindings_and_guard_rails_removed() -> None:
    rt, kube = runtime()
    add(rt, team("payments", ["payments", "payments-batch"]))
    await run(rt, "Team", ("", "payments"))
    assert kube.find("RoleBinding", "team-owners", "payments-batch") is not None
    body = rt.stores["Team"][("", "payments")]
    body["status"] = kube.statuses("Team")[-1]
    body["spec"]["namespaces"] = ["payments"]
    body["metadata"]["generation"] = 2
    await run(rt, "Team", ("", "payments"))
    for kind, name in (("RoleBinding", "team-owners"), ("Role", "team-member"), ("NetworkPolicy", "team-default-deny"),
                       ("ResourceQuota", "team-quota"), ("LimitRange", "team-limits")):
        assert kube.find(kind, name, "payments-batch") is None, kind
        assert kube.find(kind, name, "payments") is not None, kind
    released = [c for c in kube.writes("Namespace") if c.name == "payments-batch"][-1]
    assert released.field_manager == TEAM_FIELD_MANAGER
    left = {n["name"]: n["state"] for n in kube.statuses("Team")[-1]["namespaces"]}
    assert left == {"payments": "Created", "payments-batch": "Left"}


def _deleting(body: Obj) -> Obj:
    return {**body, "metadata": {**body["metadata"], "deletionTimestamp": "2026-01-03T00:00:00Z"}}


async def _settle(rt: Runtime) -> None:
    reconciler = rt.controllers["Team"].reconciler
    while reconciler._deleting:  # noqa: SLF001 - the clean-up tasks a watch event started
        await next(iter(reconciler._deleting.values()))  # noqa: SLF001


async def test_the_echo_of_a_finished_team_clean_up_posts_no_second_contradicting_summary() -> None:
    """The clean-up writes the Team's last status before it removes the finalizer; that write's echo still lists
    the finalizer. A second clean-up started by it found every namespace Left and posted "kept no namespace;
    deleted no namespace" after the true summary (seen in CI as the newest TeamDeleted event)."""
    rt, kube = runtime()
    add(rt, team("lab", ["lab-empty", "lab-busy"]))
    await run(rt, "Team", ("", "lab"))
    add(rt, capability("experiment", "lab-busy", owner="lab"))
    body = rt.stores["Team"][("", "lab")]
    body["status"] = kube.statuses("Team")[-1]
    deleting = _deleting(body)
    kube.put(deleting)
    rt.observe("Team", "MODIFIED", deleting)
    await _settle(rt)
    echo = {**deleting, "status": kube.statuses("Team")[-1]}  # every namespace now Left; the finalizer still listed
    assert {n["state"] for n in echo["status"]["namespaces"]} == {"Left"}
    rt.observe("Team", "MODIFIED", echo)
    await _settle(rt)
    summaries = [e["message"] for e in kube.events if e.get("reason") == "TeamDeleted"]
    assert summaries == ["Team deleted: kept lab-busy (kept: holds 1 capability(ies)); deleted lab-empty"]
    assert kube.find("Namespace", "lab-empty") is None and kube.find("Namespace", "lab-busy") is not None


async def test_a_team_clean_up_that_failed_is_started_again_by_the_next_event() -> None:
    rt, kube = runtime()
    add(rt, team("lab", ["lab-empty"]))
    await run(rt, "Team", ("", "lab"))
    body = rt.stores["Team"][("", "lab")]
    body["status"] = kube.statuses("Team")[-1]
    kube.put(_deleting(body))
    kube.refuse("Namespace", "lab-empty", status=500, reason="InternalError", message="etcd is away")
    rt.observe("Team", "MODIFIED", _deleting(body))
    await _settle(rt)
    assert kube.find("Namespace", "lab-empty") is not None  # nothing settled: the finalizer stays
    kube._refusals.clear()  # noqa: SLF001 - the API server is back
    rt.observe("Team", "MODIFIED", _deleting(body))
    await _settle(rt)
    assert kube.find("Namespace", "lab-empty") is None
    assert [e["message"] for e in kube.events if e.get("reason") == "TeamDeleted"][-1] == \
        "Team deleted: kept no namespace; deleted lab-empty"
