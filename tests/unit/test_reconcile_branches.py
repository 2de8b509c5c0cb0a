"""Every reconciler's refuse, NameConflict, drift and requeue branches, through the one controller loop.

Covers, for BusinessCapability, TenantSandbox, ImageRegistry, Channel and CompliancePolicy, on the real
reconcilers over the one fake gateway (tests/support/fake_kube.py): a spec only the user can fix is refused
with Ready=False and nothing applied, and is not reconciled again until its generation changes; an object of
the same name that Finplane does not own is reported (NameConflict / NamespaceConflict) and left untouched; a
child edited by hand is put back with a `Drift` event and counted in finplane_drift_corrections_total for
every kind (sandboxes, registries and policies were never counted before); and each kind asks to be woken
again when it must (a timeline, a token refresh, a waiver expiry, a 409 Conflict) through the one requeue path.
"""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from finplane.handlers.registrations import register_all
from finplane.reconcile.runtime import Key, Runtime
from finplane.settings import Settings
from finplane.status.conditions import now_iso
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
API = "finplane.io/v1alpha1"
CAP, SBX, REG, CHAN, POL = "BusinessCapability", "TenantSandbox", "ImageRegistry", "Channel", "CompliancePolicy"


class RecordingRuntime(Runtime):
    """The real runtime with every reconciler added; `enqueue` (wake-ups by watches) recorded, not run."""

    def __init__(self, kube: FakeKube, settings: Settings) -> None:
        super().__init__(kube=kube, settings=settings)  # type: ignore[arg-type]
        self.enqueued: list[tuple[str, Key, float]] = []
        self.requeued: list[tuple[str, Key, float]] = []  # what passes asked for (Outcome.requeue_after)
        register_all(self)
        for kind, controller in self.controllers.items():
            controller.queue.enqueue = (  # type: ignore[method-assign]
                lambda key, *, delay=0.0, kind=kind: self.requeued.append((kind, key, delay)))

    def enqueue(self, kind: str, key: Key, *, delay: float = 0.0) -> None:
        self.enqueued.append((kind, key, delay))


def runtime(kube: FakeKube | None = None, **settings: Any) -> RecordingRuntime:
    return RecordingRuntime(kube or FakeKube(), Settings(registry_prune_grace_seconds=0, **settings))


async def run(rt: Runtime, kind: str, key: Key) -> None:
    """One pass of the kind's controller over `key`, as a worker would run it."""
    await rt.controllers[kind].reconcile_once(key)


def add(rt: Runtime, *bodies: Obj) -> None:
    """Put bodies in the runtime's stores, as the watches would (uids filled in)."""
    for body in bodies:
        meta = body["metadata"]
        meta.setdefault("uid", f"{body['kind'].lower()}-{meta['name']}-uid")
        meta.setdefault("generation", 1)
        meta.setdefault("resourceVersion", "1")
        rt.stores.setdefault(body["kind"], {})[(meta.get("namespace") or "", meta["name"])] = body


def capability(name: str, ns: str = "payments", **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": "BusinessCapability", "metadata": {"name": name, "namespace": ns},
            "spec": {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
                     "image": "registry.finplane.local/payments/app:1.0.0", **spec}}


def namespace(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def payments_namespace() -> Obj:
    """The payments namespace, labelled for its team by hand (migrate mode: the team registries grant)."""
    return namespace("payments", **{"finplane.io/team": "payments"})


def static_registry(name: str = "internal", **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": "ImageRegistry", "metadata": {"name": name},
            "spec": {"kind": "static", "server": "registry.finplane.local", "allowedTeams": ["payments"],
                     "static": {"secretRef": {"name": "creds", "namespace": "finplane-system"}}, **spec}}


def registry_source_secret() -> Obj:
    def b64(v: str) -> str:
        return base64.b64encode(v.encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
            "metadata": {"name": "creds", "namespace": "finplane-system"},
            "data": {"username": b64("puller"), "password": b64("pw")}}


def sandbox(name: str = "acme", **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": "TenantSandbox",
            "metadata": {"name": name, "annotations": {"finplane.io/approval": "approved"},
                         "creationTimestamp": now_iso()},
            "spec": {"partner": {"name": name, "organisation": "Acme", "contact": "p@acme.example"},
                     "ttlSeconds": 86400, **spec}}


def conditions(body: Obj | None) -> dict[str, Obj]:
    return {c["type"]: c for c in ((body or {}).get("status") or {}).get("conditions") or []}


def echo_status(rt: Runtime, kube: FakeKube, kind: str, key: Key) -> Obj:
    """Apply the last status patch sent for `kind` to the stored body (the watch echo of the status write)."""
    body = rt.stores[kind][key]
    sent = kube.statuses(kind)
    if sent:
        body["status"] = {**(body.get("status") or {}), **sent[-1]}
        body["status"] = {k: v for k, v in body["status"].items() if v is not None}
    return body




def drift_count(kind: str, child_kind: str) -> float:
    return REGISTRY.get_sample_value("finplane_drift_corrections_total",
                                     {"kind": kind, "child_kind": child_kind}) or 0.0


def ready_of(kube: FakeKube, kind: str) -> tuple[str, str]:
    c = kube.last_conditions(kind)["Ready"]
    return c["status"], c["reason"]


def channel(name: str = "web", **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": "Channel", "metadata": {"name": name},
            "spec": {"type": "web", "hostnames": ["www.bank.example"],
                     "backend": {"kind": "ingress", "ingressClassName": "nginx"},
                     "routes": [{"name": "pay", "pathPrefix": "/pay",
                                 "capability": {"namespace": "payments", "name": "pay"}}], **spec}}


def ready_capability(name: str = "pay") -> Obj:
    body = capability(name)
    body["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}]}
    return body


def policy(name: str = "baseline", **spec: Any) -> Obj:
    return {"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": name},
            "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}], **spec}}


def foreign(kind: str, api_version: str, name: str, namespace: str | None = None, **body: Any) -> Obj:
    meta: Obj = {"name": name, "labels": {"owner": "someone-else"}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def edit(kube: FakeKube, kind: str, name: str, namespace: str | None, path: list[str], value: Any) -> Obj:
    """Change one field of a stored child by hand (keeping its rendering hash); returns the edited object."""
    obj = kube.find(kind, name, namespace)
    assert obj is not None, (kind, name)
    node = obj
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1000)
    return copy.deepcopy(obj)


# -- refuse: a spec only the user can fix ------------------------------------------------------------
REFUSALS = [
    (CAP, capability("pay", replicas="many"), ("payments", "pay"), "InvalidSpec"),
    (CAP, capability("pay", port=80), ("payments", "pay"), "PrivilegedPort"),
    (SBX, sandbox("acme", ttlSeconds=10 ** 9), ("", "acme"), "InvalidSpec"),
    (SBX, sandbox("huge", ttlSeconds=300 * 86400), ("", "huge"), "TTLTooLong"),
    (REG, {**static_registry(), "spec": {"kind": "ecr", "server": "x.example"}}, ("", "internal"), "InvalidSpec"),
    (CHAN, {**channel(), "spec": {"type": "web"}}, ("", "web"), "InvalidSpec"),
    (POL, policy(mode="sometimes"), ("", "baseline"), "InvalidSpec"),
]


@pytest.mark.parametrize(("kind", "body", "key", "reason"), REFUSALS, ids=[f"{k}-{r}" for k, _, _, r in REFUSALS])
async def test_a_refused_spec_writes_only_its_status_and_waits_for_a_new_generation(
        kind: str, body: Obj, key: Key, reason: str) -> None:
    kube = FakeKube()
    rt = runtime(kube, sandbox_max_ttl_seconds=90 * 86400)
    add(rt, copy.deepcopy(body))
    await run(rt, kind, key)
    assert [c.verb for c in kube.writes()] == ["patch_status"]
    assert ready_of(kube, kind) == ("False", reason)
    echo_status(rt, kube, kind, key)
    await run(rt, kind, key)  # woken again (a resync, a related event): nothing new to say or write
    assert len(kube.writes()) == 1
    rt.stores[kind][key]["metadata"]["generation"] = 2  # the user edits the spec: it is looked at again
    await run(rt, kind, key)
    assert len(kube.writes()) == 2 and kube.statuses(kind)[-1]["observedGeneration"] == 2


# -- NameConflict: an object of the same name Finplane does not own ----------------------------------
async def test_a_capability_whose_service_name_is_taken_touches_nothing_and_says_which_object() -> None:
    kube = FakeKube()
    kube.put(foreign("Service", "v1", "pay", "payments", spec={"ports": [{"port": 1}]}))
    rt = runtime(kube)
    add(rt, capability("pay"))
    await run(rt, CAP, ("payments", "pay"))
    assert [c.verb for c in kube.writes()] == ["patch_status"]
    status, reason = ready_of(kube, CAP)
    assert (status, reason) == ("False", "NameConflict")
    assert "Service/payments/pay" in kube.last_conditions(CAP)["Ready"]["message"]
    del kube.objects[("v1", "Service", "payments", "pay")]  # the user removes it: the next wake-up applies
    await run(rt, CAP, ("payments", "pay"))
    assert kube.find("Deployment", "pay", "payments") is not None


async def test_a_sandbox_whose_namespace_exists_adopts_nothing() -> None:
    kube = FakeKube()
    kube.put(foreign("Namespace", "v1", "sbx-acme"))
    rt = runtime(kube)
    add(rt, sandbox("acme"))
    await run(rt, SBX, ("", "acme"))
    assert [c.verb for c in kube.writes()] == ["patch_status"]
    assert ready_of(kube, SBX) == ("False", "NamespaceConflict")
    assert kube.statuses(SBX)[-1]["phase"] == "Failed"


async def test_a_registry_leaves_a_foreign_secret_of_its_name_alone_and_reports_the_namespace() -> None:
    kube = FakeKube()
    kube.put(registry_source_secret(), foreign("Secret", "v1", "internal-pull", "payments", data={"x": "eQ=="}))
    rt = runtime(kube)
    add(rt, static_registry(), payments_namespace(), capability("pay", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "payments")["data"] == {"x": "eQ=="}
    assert ready_of(kube, REG) == ("False", "NameConflict")
    assert "payments" in kube.last_conditions(REG)["Ready"]["message"]


async def test_a_channel_route_whose_ingress_name_is_taken_fails_alone() -> None:
    kube = FakeKube()
    kube.put(foreign("Ingress", "networking.k8s.io/v1", "web-pay", "payments", spec={"rules": []}))
    rt = runtime(kube)
    add(rt, ready_capability("pay"), channel())
    await run(rt, CHAN, ("", "web"))
    assert kube.writes("Ingress") == [] and kube.writes("NetworkPolicy") == []
    route = kube.statuses(CHAN)[-1]["routes"][0]
    assert (route["ready"], route["reason"]) == ("False", "NameConflict")
    assert ready_of(kube, CHAN) == ("False", "NameConflict")


async def test_a_policy_report_of_another_owner_is_reported_not_counted_as_written() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, policy(), capability("pay", image="registry.finplane.local/payments/app:latest"))
    await run(rt, POL, ("", "baseline"))
    reports = kube.of_kind("PolicyReport")
    assert reports, "the policy writes a PolicyReport for the capability's namespace"
    name = reports[0]["metadata"]["name"]
    kube2 = FakeKube()
    kube2.put(foreign("PolicyReport", "wgpolicyk8s.io/v1alpha2", name, "payments"))
    rt2 = runtime(kube2)
    add(rt2, policy(), capability("pay", image="registry.finplane.local/payments/app:latest"))
    await run(rt2, POL, ("", "baseline"))
    written = kube2.last_conditions(POL)["ReportsWritten"]
    assert (written["status"], written["reason"]) == ("False", "NameConflict")
    assert kube2.find("PolicyReport", name, "payments")["metadata"]["labels"] == {"owner": "someone-else"}


# -- drift: a child edited by hand is put back, with an event and a count, for every kind ------------
async def test_drift_on_a_capability_child_is_reverted_counted_and_announced() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, capability("pay"))
    await run(rt, CAP, ("payments", "pay"))
    echo_status(rt, kube, CAP, ("payments", "pay"))
    rt.child_cache.observe("MODIFIED", edit(kube, "Deployment", "pay", "payments", ["spec", "revisionHistoryLimit"], 99))
    before = drift_count(CAP, "Deployment")
    await run(rt, CAP, ("payments", "pay"))
    assert kube.find("Deployment", "pay", "payments")["spec"]["revisionHistoryLimit"] == 5
    assert drift_count(CAP, "Deployment") == before + 1
    assert [e["message"] for e in kube.events if e["reason"] == "Drift"] == [
        "Reverted manual change to Deployment/payments/pay: spec.revisionHistoryLimit"]


async def test_drift_on_a_sandbox_guard_rail_is_reverted_and_counted() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, sandbox("acme"))
    await run(rt, SBX, ("", "acme"))
    echo_status(rt, kube, SBX, ("", "acme"))
    deny = copy.deepcopy(kube.find("NetworkPolicy", "default-deny", "sbx-acme"))
    await kube.delete("networking.k8s.io/v1", "NetworkPolicy", "default-deny", "sbx-acme")
    rt.child_cache.observe("DELETED", deny)
    before = drift_count(SBX, "NetworkPolicy")
    await run(rt, SBX, ("", "acme"))
    assert kube.find("NetworkPolicy", "default-deny", "sbx-acme") is not None
    assert drift_count(SBX, "NetworkPolicy") == before + 1
    assert "Reverted manual change to NetworkPolicy/sbx-acme/default-deny: (deleted)" in [
        e["message"] for e in kube.events if e["reason"] == "Drift"]


async def test_drift_on_a_pull_secret_is_reverted_and_counted() -> None:
    kube = FakeKube()
    kube.put(registry_source_secret())
    rt = runtime(kube)
    add(rt, static_registry(), payments_namespace(), capability("pay", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    echo_status(rt, kube, REG, ("", "internal"))
    good = kube.find("Secret", "internal-pull", "payments")["data"][".dockerconfigjson"]
    edit(kube, "Secret", "internal-pull", "payments", ["data", ".dockerconfigjson"], base64.b64encode(b"{}").decode())
    before = drift_count(REG, "Secret")
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "payments")["data"][".dockerconfigjson"] == good
    assert drift_count(REG, "Secret") == before + 1
    assert any(e["reason"] == "Drift" and "Secret/payments/internal-pull" in e["message"] for e in kube.events)


async def test_drift_on_a_channel_ingress_is_reverted_and_counted() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, ready_capability("pay"), channel())
    await run(rt, CHAN, ("", "web"))
    echo_status(rt, kube, CHAN, ("", "web"))
    ingress = kube.find("Ingress", "web-pay", "payments")
    assert ingress is not None
    rt.child_cache.observe("MODIFIED", edit(kube, "Ingress", "web-pay", "payments", ["spec", "ingressClassName"], "evil"))
    before = drift_count(CHAN, "Ingress")
    await run(rt, CHAN, ("", "web"))
    assert kube.find("Ingress", "web-pay", "payments")["spec"]["ingressClassName"] == "nginx"
    assert drift_count(CHAN, "Ingress") == before + 1


# -- requeue: one mechanism, asked for by the pass or by the controller on a conflict ---------------
async def test_a_sandbox_asks_to_be_woken_at_its_next_transition() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, sandbox("acme", ttlSeconds=86400, expiryWarningSeconds=3600))
    await run(rt, SBX, ("", "acme"))
    [(kind, key, delay)] = rt.requeued
    assert (kind, key) == (SBX, ("", "acme")) and 82000 < delay <= 82800.05


async def test_a_registry_asks_to_be_woken_when_it_may_prune_after_start_up() -> None:
    """Right after start-up the stores may not hold every capability yet: nothing is pruned, the registry
    asks to be woken when the grace period ends (and writes its Secrets meanwhile)."""
    kube = FakeKube()
    kube.put(registry_source_secret())
    rt = RecordingRuntime(kube, Settings(registry_prune_grace_seconds=30))
    add(rt, static_registry(), payments_namespace(), capability("pay", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    [(kind, key, delay)] = rt.requeued
    assert (kind, key) == (REG, ("", "internal")) and 0 < delay <= 30
    assert kube.find("Secret", "internal-pull", "payments") is not None
    assert not [c for c in kube.calls if c.verb == "list" and c.kind == "Secret"]  # no prune yet


async def test_a_policy_asks_to_be_woken_when_its_next_waiver_expires() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    expiry = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    add(rt, policy(waivers=[{"name": "w", "ruleId": "no-latest-tag", "justification": "migrating the pipeline",
                             "riskRating": "low", "requestedBy": "dev@bank.example", "ticket": "RISK-1",
                             "approvedBy": "cro@bank.example", "expiresAt": expiry,
                             "objects": [{"kind": "BusinessCapability", "namespace": "payments", "name": "pay"}]}]),
        capability("pay"))
    await run(rt, POL, ("", "baseline"))
    [(kind, key, delay)] = rt.requeued
    assert (kind, key) == (POL, ("", "baseline")) and 7000 < delay <= 7200.1


@pytest.mark.parametrize(("kind", "key", "child"), [(CAP, ("payments", "pay"), ("Deployment", "pay")),
                                                     (CHAN, ("", "web"), ("Ingress", "web-pay"))])
async def test_a_conflict_is_requeued_once_soon_not_backed_off(kind: str, key: Key, child: tuple[str, str]) -> None:
    kube = FakeKube()
    kube.refuse(*child, status=409, reason="Conflict", message="the object has been modified")
    rt = runtime(kube, backoff_seconds=0.5)
    add(rt, ready_capability("pay"), channel())
    await rt.controllers[kind].queue.handler(key)  # what a worker runs: no exception reaches the queue
    assert rt.requeued == [(kind, key, 0.5)]
    assert REGISTRY.get_sample_value("finplane_reconciles_total", {"kind": kind, "outcome": "conflict"})


async def test_a_capability_allowed_by_an_enforced_waiver_wakes_when_it_expires_and_is_then_refused() -> None:
    def waiver(expires_at: datetime) -> Obj:
        return {"name": "w", "ruleId": "no-latest-tag", "justification": "migrating the pipeline",
                "riskRating": "low", "requestedBy": "dev@bank.example", "ticket": "RISK-1",
                "approvedBy": "cro@bank.example", "expiresAt": expires_at.isoformat(),
                "objects": [{"kind": "BusinessCapability", "namespace": "payments", "name": "pay"}]}

    kube = FakeKube()
    rt = runtime(kube)
    soon = datetime.now(UTC) + timedelta(hours=1)
    add(rt, policy(mode="enforce", waivers=[waiver(soon)]),
        capability("pay", image="registry.finplane.local/payments/app:latest"))
    await run(rt, CAP, ("payments", "pay"))
    assert kube.find("Deployment", "pay", "payments") is not None  # waived: allowed for now
    [(kind, key, delay)] = [r for r in rt.requeued if r[0] == CAP]
    assert key == ("payments", "pay") and 3500 < delay <= 3600.1

    rt.stores[POL][("", "baseline")]["spec"]["waivers"] = [waiver(datetime.now(UTC) - timedelta(seconds=1))]
    echo_status(rt, kube, CAP, ("payments", "pay"))
    await run(rt, CAP, ("payments", "pay"))  # the wake-up at the expiry instant
    assert ready_of(kube, CAP) == ("False", "PolicyViolation")
