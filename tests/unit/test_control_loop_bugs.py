"""The control-loop bugs of issue 14, each as the user met it, on the real reconcilers over the one fake gateway.

Covers: one writer per field — the ImageRegistry reconciler never writes a capability's own ServiceAccount
(the capability renders its imagePullSecrets) and the sandbox reconciler never writes its namespace's
`default` ServiceAccount (the registry wires it, under its own field manager `finplane-registry`); a
capability refused and later fixed reports no drift for children it never had, while a child deleted by
hand is still reported; names that cannot be Service names or label values (`pay.v2`, `1pay`, 64
characters) are refused with InvalidName before anything is written, in the CRD through CEL too; a sandbox
expiry out of Python's date range is InvalidSpec; NetworkPolicies are applied before the workload, and a
child the API server refuses stops the pass before the Deployment with Ready=False and the server's reason,
ending the pass without a retry.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from pydantic import ValidationError

from finplane.handlers.registrations import register_all
from finplane.models.registry import kind_info
from finplane.models.tenant_sandbox import TenantSandboxSpec
from finplane.names import REGISTRY_FIELD_MANAGER
from finplane.reconcile.children import OWNER_LABEL
from finplane.reconcile.runtime import Key, Runtime
from finplane.render.capability import render_capability
from finplane.settings import Settings
from finplane.status.conditions import now_iso
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
API = "finplane.io/v1alpha1"
CAP, SBX, REG = "BusinessCapability", "TenantSandbox", "ImageRegistry"


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


def copy_of(obj: Obj | None) -> Obj:
    assert obj is not None
    return copy.deepcopy(obj)


# -- one writer per field ---------------------------------------------------------------------------
async def test_the_registry_never_writes_the_service_account_a_capability_renders() -> None:
    kube = FakeKube()
    kube.put(registry_source_secret(), {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "pay", "namespace": "payments",
                     "labels": {OWNER_LABEL: "cap-uid", "app.kubernetes.io/managed-by": "finplane"}},
        "imagePullSecrets": [{"name": "internal-pull"}]})
    rt = runtime(kube)
    add(rt, static_registry(), payments_namespace(), capability("pay", registryRef="internal"))
    rt.observe("ServiceAccount", "ADDED", copy_of(kube.find("ServiceAccount", "pay", "payments")))  # the watch
    await run(rt, REG, ("", "internal"))
    assert kube.find("Secret", "internal-pull", "payments") is not None
    assert kube.writes("ServiceAccount") == []
    assert copy_of(kube.find("ServiceAccount", "pay", "payments"))["imagePullSecrets"] == [{"name": "internal-pull"}]


async def test_the_sandbox_default_service_account_is_wired_by_the_registry_alone_under_its_own_manager() -> None:
    kube = FakeKube()
    kube.put(registry_source_secret())
    rt = runtime(kube)
    add(rt, static_registry(allowSandboxes=True), sandbox("acme", registryRef="internal"))
    await run(rt, SBX, ("", "acme"))
    # The sandbox owns one field of the account (automountServiceAccountToken, CIS 5.1.6) under its own
    # manager, and never imagePullSecrets.
    assert {c.field_manager for c in kube.writes("ServiceAccount")} <= {"finplane-sandbox"}
    assert "imagePullSecrets" not in (kube.find("ServiceAccount", "default", "sbx-acme") or {})
    assert kube.last_conditions("TenantSandbox")["ImagePullAccess"]["reason"] == "PullSecretMissing"
    sandbox_writes = len(kube.writes("ServiceAccount"))

    add(rt, copy_of(kube.find("Namespace", "sbx-acme")))  # the watch delivers the namespace the sandbox made
    await run(rt, REG, ("", "internal"))
    assert {c.field_manager for c in kube.writes("ServiceAccount")[sandbox_writes:]} == {REGISTRY_FIELD_MANAGER}
    assert copy_of(kube.find("ServiceAccount", "default", "sbx-acme"))["imagePullSecrets"] == [
        {"name": "internal-pull"}]

    echo_status(rt, kube, "TenantSandbox", ("", "acme"))
    writes_before = len(kube.writes("ServiceAccount"))
    await run(rt, SBX, ("", "acme"))
    await run(rt, REG, ("", "internal"))
    assert len(kube.writes("ServiceAccount")) == writes_before  # settled: nobody writes it again
    assert kube.last_conditions("TenantSandbox")["ImagePullAccess"]["status"] == "True"


# -- drift only for children that existed -----------------------------------------------------------
async def test_a_capability_refused_then_fixed_reports_no_drift_for_children_it_never_had() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, capability("a", dependencies=[{"name": "b"}]), capability("b", dependencies=[{"name": "a"}]))
    await run(rt, CAP, ("payments", "a"))
    assert kube.last_conditions("BusinessCapability")["Ready"]["reason"] == "DependencyCycle"
    assert kube.writes("Deployment") == []
    echo_status(rt, kube, "BusinessCapability", ("payments", "a"))  # observedGeneration is now set

    rt.stores["BusinessCapability"][("payments", "b")]["spec"]["dependencies"] = []  # the cycle is broken
    await run(rt, CAP, ("payments", "a"))
    assert kube.find("Deployment", "a", "payments") is not None
    assert "Drift" not in kube.event_reasons()


async def test_a_child_deleted_by_hand_is_still_reported_as_drift() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, capability("a"))
    await run(rt, CAP, ("payments", "a"))
    echo_status(rt, kube, "BusinessCapability", ("payments", "a"))
    service = copy_of(kube.find("Service", "a", "payments"))
    await kube.delete("v1", "Service", "a", "payments")
    rt.child_cache.observe("DELETED", service)  # what the child watch reports
    await run(rt, CAP, ("payments", "a"))
    drift = [e["message"] for e in kube.events if e["reason"] == "Drift"]
    assert drift == ["Reverted manual change to Service/payments/a: (deleted)"]
    assert kube.find("Service", "a", "payments") is not None


# -- validate before the first write ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["pay.v2", "1pay", "p" * 64])
async def test_a_name_that_cannot_be_a_service_name_is_refused_before_anything_is_written(name: str) -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, capability(name))
    await run(rt, CAP, ("payments", name))
    assert [c.verb for c in kube.writes()] == ["patch_status"]
    ready = kube.last_conditions("BusinessCapability")["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidName")
    assert "DNS-1035" in ready["message"]


def test_the_crds_state_the_name_rules_as_cel_at_the_root() -> None:
    """A real API server ignores schemas on ObjectMeta; CEL rules at the root see self.metadata.name."""
    from finplane.crdgen import build_crd

    for kind, must in (("BusinessCapability", ["matches(", "size() <= 63"]), ("TenantSandbox", ["size() <= 63"]),
                       ("ImageRegistry", ["size() <= 63"])):
        root = build_crd(kind_info(kind))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        rules = " ".join(r["rule"] for r in root.get("x-kubernetes-validations", []))
        assert all(m in rules for m in must) and "self.metadata.name" in rules, kind


async def test_a_registry_name_too_long_for_a_label_value_is_refused_before_any_secret_is_written() -> None:
    kube = FakeKube()
    kube.put(registry_source_secret())
    rt = runtime(kube)
    long = "r" * 64
    add(rt, static_registry(long), payments_namespace(), capability("pay", registryRef=long))
    await run(rt, REG, ("", long))
    assert [c.verb for c in kube.writes()] == ["patch_status"]
    assert kube.last_conditions("ImageRegistry")["Ready"]["reason"] == "InvalidName"


def test_a_sandbox_expiry_beyond_the_year_9999_in_utc_is_refused_by_the_model() -> None:
    with pytest.raises(ValidationError, match="out of range"):
        TenantSandboxSpec.model_validate({"partner": {"name": "a", "organisation": "A", "contact": "a@a.example"},
                                          "expiresAt": "9999-12-31T23:59:59-23:59"})


async def test_a_sandbox_expiry_out_of_range_is_invalid_spec_not_a_retry_loop() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    body = sandbox("late")
    del body["spec"]["ttlSeconds"]
    body["spec"]["expiresAt"] = "9999-12-31T23:59:59-23:59"
    add(rt, body)
    await run(rt, SBX, ("", "late"))  # returns normally: nothing for the queue to retry
    assert [c.verb for c in kube.writes()] == ["patch_status"]
    ready = kube.last_conditions("TenantSandbox")["Ready"]
    assert (ready["reason"], "out of range" in ready["message"]) == ("InvalidSpec", True)


# -- isolate before the workload --------------------------------------------------------------------
def test_network_policies_are_rendered_first_and_the_deployment_last() -> None:
    from finplane.models.business_capability import BusinessCapabilitySpec

    spec = BusinessCapabilitySpec.model_validate({**capability("pay")["spec"], "replicas": 2})
    kinds = [c["kind"] for c in render_capability(name="pay", namespace="payments", spec=spec, settings=Settings())]
    assert kinds[:2] == ["NetworkPolicy", "NetworkPolicy"] and kinds[-1] == "Deployment"
    assert kinds.index("ServiceAccount") < kinds.index("Deployment")


async def test_a_child_the_server_refuses_stops_the_pass_before_the_deployment_with_the_server_reason() -> None:
    kube = FakeKube()
    kube.refuse("Service", "pay", status=422, reason="Invalid",
                message='Service "pay" is invalid: metadata.name: Invalid value: a DNS-1035 label must consist of ...')
    rt = runtime(kube)
    add(rt, capability("pay"))
    await run(rt, CAP, ("payments", "pay"))  # returns normally: no retry loop
    assert kube.find("Deployment", "pay", "payments") is None
    assert {o["metadata"]["name"] for o in kube.of_kind("NetworkPolicy")} == {"pay-default-deny", "pay-allow"}
    ready = kube.last_conditions("BusinessCapability")["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "Invalid")
    assert "Service/payments/pay" in ready["message"] and "DNS-1035" in ready["message"]
    assert rt.requeued == []
    writes = len(kube.writes())
    echo_status(rt, kube, CAP, ("payments", "pay"))
    await run(rt, CAP, ("payments", "pay"))  # woken again (a drift resync): refused for good until the spec changes
    assert len(kube.writes()) == writes


# -- gauges are filled at start-up ------------------------------------------------------------------
async def test_finplane_objects_is_filled_at_start_up_not_at_the_first_drift_tick() -> None:
    import asyncio

    from prometheus_client import REGISTRY

    from finplane.handlers.main import _gauge_loop

    rt = runtime(FakeKube(), drift_check_interval_seconds=3600)
    ready = capability("up")
    ready["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}]}
    add(rt, ready, capability("down"), capability("new"))
    rt.stores[CAP][("payments", "down")]["status"] = {"conditions": [{"type": "Ready", "status": "False"}]}
    task = asyncio.create_task(_gauge_loop(rt, 3600))
    await asyncio.sleep(0)  # the loop's first round runs before its first sleep
    task.cancel()
    counts = {state: REGISTRY.get_sample_value("finplane_objects", {"kind": CAP, "ready": state})
              for state in ("True", "False", "Unknown")}
    assert counts == {"True": 1.0, "False": 1.0, "Unknown": 1.0}
