"""Consent across the tenant boundary, written as the attacker: callers the callee did not admit, registries
nobody granted.

Covers, on the real reconcilers over the one fake gateway (tests/support/fake_kube.py): team B declaring a
dependency on team A's capability gets its own egress but no ingress into A, and reports
DependenciesReady=False CallerNotAllowed naming A; A admitting B's team by spec.allowedCallers opens it; a
sandbox awaiting approval (or not yet provisioned, or Failed) listing a capability opens nothing; a restricted
capability admits no sandbox until it says `sandboxes: true`; team B naming team A's registry gets no pull
Secret in its namespace and no Deployment (ImagePullAccess=False RegistryNotGranted); an image outside the
registry's allowedRepositories gets neither; the Team's own allowedRegistries must agree with the grant; a
sandbox gets the pull Secret only from a registry that allows sandboxes, and only once approved.
"""

from __future__ import annotations

from typing import Any

from finplane.handlers.registrations import register_all
from finplane.reconcile.runtime import Key, Runtime
from finplane.settings import Settings
from finplane.status.conditions import now_iso
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
API = "finplane.io/v1alpha1"
CAP, SBX, REG, TEAM = "BusinessCapability", "TenantSandbox", "ImageRegistry", "Team"


class QuietRuntime(Runtime):
    """The real runtime with every reconciler added; wake-ups by watches are not run (each test runs passes)."""

    def __init__(self, kube: FakeKube) -> None:
        super().__init__(kube=kube, settings=Settings(registry_prune_grace_seconds=0))  # type: ignore[arg-type]
        register_all(self)
        for controller in self.controllers.values():
            controller.queue.enqueue = lambda key, *, delay=0.0: None  # type: ignore[method-assign]

        self.woken: list[tuple[str, Key]] = []

    def enqueue(self, kind: str, key: Key, *, delay: float = 0.0) -> None:
        self.woken.append((kind, key))


def add(rt: Runtime, *bodies: Obj) -> None:
    """Feed bodies through the runtime's watches, as the API server's watch events would (indexes included)."""
    for body in bodies:
        meta = body["metadata"]
        meta.setdefault("uid", f"{body['kind'].lower()}-{meta['name']}-uid")
        meta.setdefault("generation", 1)
        meta.setdefault("resourceVersion", "1")
        rt.observe(body["kind"], "ADDED", body)
        assert (meta.get("namespace") or "", meta["name"]) in rt.stores[body["kind"]]


async def run(rt: Runtime, kind: str, key: Key) -> None:
    await rt.controllers[kind].reconcile_once(key)


def team(name: str, *, allowed_registries: list[str] | None = None) -> Obj:
    spec: Obj = {"displayName": name, "contact": {"email": f"{name}@bank.example"},
                 "owners": [{"kind": "Group", "name": f"{name}-leads"}], "namespaces": [name]}
    if allowed_registries is not None:
        spec["allowedRegistries"] = allowed_registries
    return {"apiVersion": API, "kind": TEAM, "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": spec, "status": {"observedGeneration": 1, "namespaces": [{"name": name, "state": "Adopted"}]}}


def capability(name: str, ns: str, **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": CAP, "metadata": {"name": name, "namespace": ns},
            "spec": {"owner": {"team": ns, "contact": f"{ns}@bank.example"}, "domain": "payments",
                     "image": f"registry.finplane.local/{ns}/{name}:1.0.0", **spec}}


def ready(body: Obj) -> Obj:
    body["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}]}
    return body


def registry(name: str = "internal", **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": REG, "metadata": {"name": name},
            "spec": {"kind": "static", "server": "registry.finplane.local",
                     "static": {"secretRef": {"name": "creds", "namespace": "finplane-system"}}, **spec}}


def source_secret() -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
            "metadata": {"name": "creds", "namespace": "finplane-system"},
            "data": {"username": "cHVsbGVy", "password": "cHc="}}


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {}}}


def sandbox(name: str, *, approval: str = "approved", phase: str | None = "Active", **spec: Any) -> Obj:
    body: Obj = {"apiVersion": API, "kind": SBX,
                 "metadata": {"name": name, "annotations": {"finplane.io/approval": approval},
                              "creationTimestamp": now_iso()},
                 "spec": {"partner": {"name": name, "organisation": "Acme", "contact": "p@acme.example"},
                          "ttlSeconds": 86400, **spec}}
    if phase is not None:
        body["status"] = {"phase": phase, "namespace": f"sbx-{name}"}
    return body


def conditions(kube: FakeKube) -> dict[str, Obj]:
    return kube.last_conditions(CAP)


def ingress_sources(kube: FakeKube, ns: str, name: str) -> list[Obj]:
    policy = kube.find("NetworkPolicy", f"{name}-allow", ns)
    assert policy is not None
    return [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from") or []]


def egress_namespaces(kube: FakeKube, ns: str, name: str) -> set[str]:
    policy = kube.find("NetworkPolicy", f"{name}-allow", ns)
    assert policy is not None
    return {(peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name", "")
            for rule in policy["spec"]["egress"] for peer in rule.get("to") or []}


def mentions(peers: list[Obj], namespace: str) -> bool:
    return any((p.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
               == namespace for p in peers)


def estate(**callee_spec: Any) -> tuple[FakeKube, QuietRuntime]:
    kube = FakeKube()
    rt = QuietRuntime(kube)
    add(rt, team("payments"), team("cards"), ready(capability("ledger", "payments", **callee_spec)),
        ready(capability("pay", "payments", dependencies=[{"name": "ledger"}])),
        capability("shop", "cards", dependencies=[{"namespace": "payments", "name": "ledger"}]))
    return kube, rt


# -- consent for calls between capabilities -------------------------------------------------------------
async def test_another_teams_dependency_gets_no_ingress_and_sees_caller_not_allowed() -> None:
    kube, rt = estate()
    await run(rt, CAP, ("cards", "shop"))
    await run(rt, CAP, ("payments", "ledger"))
    peers = ingress_sources(kube, "payments", "ledger")
    assert not mentions(peers, "cards")  # the attacker's namespace is nowhere in the callee's ingress
    assert mentions(peers, "payments")  # the callee's own team still gets in
    assert "payments" in egress_namespaces(kube, "cards", "shop")  # the caller's egress alone is rendered
    await run(rt, CAP, ("cards", "shop"))
    dep = kube.last_conditions(CAP)["DependenciesReady"]
    assert (dep["status"], dep["reason"]) == ("False", "CallerNotAllowed")
    assert "payments/ledger" in dep["message"]


async def test_the_callee_admitting_the_callers_team_opens_its_ingress() -> None:
    kube, rt = estate(allowedCallers={"teams": ["cards"]})
    await run(rt, CAP, ("payments", "ledger"))
    assert mentions(ingress_sources(kube, "payments", "ledger"), "cards")
    await run(rt, CAP, ("cards", "shop"))
    assert kube.last_conditions(CAP)["DependenciesReady"]["reason"] == "DependenciesReady"


async def test_admitting_one_capability_by_name_does_not_admit_its_neighbours() -> None:
    kube, rt = estate(allowedCallers={"capabilities": [{"namespace": "cards", "name": "checkout"}]})
    await run(rt, CAP, ("payments", "ledger"))
    assert not mentions(ingress_sources(kube, "payments", "ledger"), "cards")  # shop is not checkout


async def test_a_namespace_changing_team_wakes_the_capabilities_whose_consent_it_decides() -> None:
    kube = FakeKube()
    rt = QuietRuntime(kube)
    add(rt, {**namespace("legacy"), "metadata": {"name": "legacy", "labels": {"finplane.io/team": "cards"}}},
        team("payments"), ready(capability("ledger", "payments", allowedCallers={"teams": ["cards"]})),
        capability("old", "legacy", dependencies=[{"namespace": "payments", "name": "ledger"}]))
    await run(rt, CAP, ("payments", "ledger"))  # migrate mode: the label says cards, which ledger admits
    assert mentions(ingress_sources(kube, "payments", "ledger"), "legacy")
    rt.woken.clear()
    rt.observe("Namespace", "MODIFIED", {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": "legacy", "labels": {"finplane.io/team": "shop"}}})
    assert (CAP, ("payments", "ledger")) in rt.woken and (CAP, ("legacy", "old")) in rt.woken
    await run(rt, CAP, ("payments", "ledger"))
    assert not mentions(ingress_sources(kube, "payments", "ledger"), "legacy")


# -- sandboxes as callers -----------------------------------------------------------------------------
async def test_a_sandbox_awaiting_approval_listing_a_capability_opens_nothing() -> None:
    kube, rt = estate()
    listed = [{"namespace": "payments", "name": "ledger"}]
    add(rt, sandbox("pending", approval="pending", phase="Provisioning", allowedCapabilities=listed),
        sandbox("fresh", phase=None, allowedCapabilities=listed),
        sandbox("broken", phase="Failed", allowedCapabilities=listed))
    await run(rt, CAP, ("payments", "ledger"))
    peers = ingress_sources(kube, "payments", "ledger")
    assert not any(mentions(peers, f"sbx-{n}") for n in ("pending", "fresh", "broken"))
    add(rt, sandbox("live", allowedCapabilities=listed))  # approved and Active: the one that counts
    await run(rt, CAP, ("payments", "ledger"))
    assert mentions(ingress_sources(kube, "payments", "ledger"), "sbx-live")


async def test_a_restricted_capability_admits_no_sandbox_unless_it_says_so() -> None:
    kube, rt = estate(dataClassification="restricted")
    add(rt, sandbox("live", allowedCapabilities=[{"namespace": "payments", "name": "ledger"}]))
    await run(rt, CAP, ("payments", "ledger"))
    assert not mentions(ingress_sources(kube, "payments", "ledger"), "sbx-live")
    rt.stores[CAP][("payments", "ledger")]["spec"]["allowedCallers"] = {"sandboxes": True}
    rt.stores[CAP][("payments", "ledger")]["metadata"]["generation"] = 2
    await run(rt, CAP, ("payments", "ledger"))
    assert mentions(ingress_sources(kube, "payments", "ledger"), "sbx-live")


# -- registry use is granted --------------------------------------------------------------------------
def registry_estate(**registry_spec: Any) -> tuple[FakeKube, QuietRuntime]:
    kube = FakeKube()
    kube.put(source_secret())
    rt = QuietRuntime(kube)
    add(rt, team("payments"), team("cards"), namespace("payments"), namespace("cards"),
        registry(allowedRepositories=["payments/*", "cards/*"], **registry_spec))
    return kube, rt


async def test_another_team_naming_a_registry_gets_no_pull_secret_and_no_deployment() -> None:
    kube, rt = registry_estate(allowedTeams=["payments"])
    add(rt, capability("pay", "payments", registryRef="internal"), capability("shop", "cards", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "payments") is not None
    assert kube.find("Secret", "internal-pull", "cards") is None
    await run(rt, CAP, ("cards", "shop"))
    assert kube.of_kind("Deployment") == [] and kube.find("ServiceAccount", "shop", "cards") is None
    pull = kube.last_conditions(CAP)["ImagePullAccess"]
    assert (pull["status"], pull["reason"]) == ("False", "RegistryNotGranted")
    assert kube.last_conditions(CAP)["Ready"]["reason"] == "RegistryNotGranted"
    await run(rt, CAP, ("payments", "pay"))  # the granted team is unaffected
    assert kube.find("Deployment", "pay", "payments") is not None


async def test_an_image_outside_allowed_repositories_gets_no_secret_and_no_deployment() -> None:
    kube, rt = registry_estate(allowedTeams=["payments"])
    add(rt, capability("pay", "payments", registryRef="internal", image="registry.finplane.local/secret/x:1"))
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "payments") is None
    await run(rt, CAP, ("payments", "pay"))
    assert kube.find("Deployment", "pay", "payments") is None
    assert kube.last_conditions(CAP)["ImagePullAccess"]["reason"] == "RepositoryNotAllowed"


async def test_an_image_from_another_host_gets_no_deployment() -> None:
    kube, rt = registry_estate(allowedTeams=["payments"])
    add(rt, capability("pay", "payments", registryRef="internal", image="evil.example/payments/x:1"))
    await run(rt, CAP, ("payments", "pay"))
    assert kube.find("Deployment", "pay", "payments") is None
    assert kube.last_conditions(CAP)["ImagePullAccess"]["reason"] == "RegistryMismatch"


async def test_the_teams_allow_list_must_agree_with_the_registrys_grant() -> None:
    kube, rt = registry_estate(allowedTeams=["payments", "cards"])
    add(rt, team("cards", allowed_registries=["other"]), capability("shop", "cards", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "cards") is None


async def test_a_grant_withdrawn_removes_the_pull_secret() -> None:
    kube, rt = registry_estate(allowedTeams=["cards"])
    add(rt, capability("shop", "cards", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "cards") is not None
    rt.stores[REG][("", "internal")]["spec"]["allowedTeams"] = []
    rt.stores[REG][("", "internal")]["metadata"]["generation"] = 2
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "cards") is None


async def test_a_grant_withdrawn_refuses_the_capability_and_leaves_no_credential_in_its_namespace() -> None:
    """The team that lost its grant keeps no pull Secret and its capability says why; its running Deployment is
    left as it was (its pods keep the images they pulled, new pods cannot pull) and is never updated again
    until the grant comes back: removing a workload is its team's decision, not a side effect of a registry
    edit."""
    kube, rt = registry_estate(allowedTeams=["cards"])
    add(rt, capability("shop", "cards", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    await run(rt, CAP, ("cards", "shop"))
    before = kube.find("Deployment", "shop", "cards")
    assert before is not None and kube.find("Secret", "internal-pull", "cards") is not None
    rt.stores[REG][("", "internal")]["spec"]["allowedTeams"] = []
    rt.stores[REG][("", "internal")]["metadata"]["generation"] = 2
    await run(rt, REG, ("", "internal"))
    rt.stores[CAP][("cards", "shop")]["spec"]["replicas"] = 5  # a change the operator must not apply now
    rt.stores[CAP][("cards", "shop")]["metadata"]["generation"] = 2
    await run(rt, CAP, ("cards", "shop"))
    assert kube.find("Secret", "internal-pull", "cards") is None
    assert kube.last_conditions(CAP)["ImagePullAccess"]["reason"] == "RegistryNotGranted"
    assert kube.last_conditions(CAP)["Ready"]["status"] == "False"
    after = kube.find("Deployment", "shop", "cards")
    assert after is not None and after["spec"] == before["spec"]
    # Its ServiceAccount still names the pull Secret (the capability reconciler, its one writer, applies
    # nothing while refused), but no credential of the registry is left anywhere in the namespace.
    assert [s for s in kube.of_kind("Secret") if s["metadata"].get("namespace") == "cards"] == []


async def test_a_sandbox_gets_a_pull_secret_only_from_a_registry_allowing_sandboxes_and_once_approved() -> None:
    kube, rt = registry_estate(allowedTeams=["payments"])
    add(rt, namespace("sbx-acme"), namespace("sbx-early"), sandbox("acme", registryRef="internal"),
        sandbox("early", approval="pending", phase="Provisioning", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "sbx-acme") is None  # the registry does not allow sandboxes
    rt.stores[REG][("", "internal")]["spec"]["allowSandboxes"] = True
    rt.stores[REG][("", "internal")]["metadata"]["generation"] = 2
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "sbx-acme") is not None
    assert kube.find("Secret", "internal-pull", "sbx-early") is None  # awaiting approval: nothing
