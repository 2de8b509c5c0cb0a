"""The chart's Argo CD health check (Lua) and the kstatus conditions, run on status objects the real reconcilers wrote.

Covers: the Lua script itself (run with lupa, as Argo CD runs it with gopher-lua: `obj` in, `{status,
message}` out) gives Healthy for a Ready capability, Progressing for one rolling out, for one not observed yet
and for a new generation not yet observed, and Degraded for a refused spec, a name conflict and a sandbox
lifetime over the platform's maximum; the statuses come from the real reconcilers over the fake gateway, so the
conditions are Finplane's own. The same statuses carry kstatus' `Reconciling` / `Stalled` (what Flux and
`kstatus` read) in agreement with the Lua verdict. The argocd-cm snippet shipped next to the script holds the
script, unchanged, for each of the six kinds.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import lupa
import pytest
import yaml

from finplane.handlers.registrations import register_all
from finplane.models.registry import KINDS
from finplane.reconcile.runtime import Key, Runtime
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]
ARGOCD = Path(__file__).resolve().parents[2] / "charts" / "finplane" / "files" / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
CAP = "BusinessCapability"


def health(obj: Obj) -> tuple[str, str]:
    """Run the health script on `obj` as Argo CD does (a global `obj`, the script's return table)."""
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value: Any) -> Any:
        if isinstance(value, dict):
            return lua.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([to_lua(v) for v in value])
        return value

    lua.globals().obj = to_lua(obj)
    result = lua.execute(SCRIPT)
    return str(result["status"]), str(result["message"])


class QuietRuntime(Runtime):
    def __init__(self, kube: FakeKube, settings: Settings) -> None:
        super().__init__(kube=kube, settings=settings)  # type: ignore[arg-type]
        register_all(self)
        for controller in self.controllers.values():
            controller.queue.enqueue = lambda key, *, delay=0.0: None  # type: ignore[method-assign]

    def enqueue(self, kind: str, key: Key, *, delay: float = 0.0) -> None:
        pass


def body_of(kind: str, name: str, spec: Obj, namespace: str | None = None) -> Obj:
    meta: Obj = {"name": name, "uid": f"{name}-uid", "generation": 1, "resourceVersion": "1"}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "finplane.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


def capability_spec(**extra: Any) -> Obj:
    return {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
            "image": "registry.finplane.local/payments/app:1.0.0", **extra}


async def reconciled(kind: str, body: Obj, kube: FakeKube | None = None, *, passes: int = 1,
                     before_last: Any = None) -> Obj:
    """`body` with the status the real reconciler wrote for it (after `passes` passes)."""
    kube = kube or FakeKube()
    rt = QuietRuntime(kube, Settings(team_ownership="migrate", sandbox_max_ttl_seconds=86400))
    rt.stores.setdefault("Namespace", {})[("", "payments")] = {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments", "labels": {"finplane.io/team":
                                                                                              "payments"}}}
    key = (body["metadata"].get("namespace") or "", body["metadata"]["name"])
    rt.stores.setdefault(kind, {})[key] = body
    for i in range(passes):
        if i == passes - 1 and before_last is not None:
            before_last(kube, rt)
        await rt.controllers[kind].reconcile_once(key)
        sent = kube.statuses(kind)
        if sent:
            body["status"] = {k: v for k, v in {**(body.get("status") or {}), **sent[-1]}.items() if v is not None}
    return copy.deepcopy(body)


def roll_out(kube: FakeKube, rt: Runtime) -> None:
    """The Deployment's controller reports every replica updated and available (and the watch brings it)."""
    dep = kube.find("Deployment", "pay", "payments")
    assert dep is not None
    dep["status"] = {"observedGeneration": dep["metadata"].get("generation", 1), "replicas": 2,
                     "readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    rt.child_cache.remember(copy.deepcopy(dep))


def kstatus(obj: Obj) -> tuple[str, str]:
    """(Reconciling, Stalled) as kstatus reads them: present only while True, absent otherwise ("-")."""
    conds = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    return conds.get("Reconciling", "-"), conds.get("Stalled", "-")


async def test_a_ready_capability_is_healthy_and_current() -> None:
    obj = await reconciled(CAP, body_of(CAP, "pay", capability_spec(), "payments"), passes=2, before_last=roll_out)
    assert health(obj)[0] == "Healthy"
    assert kstatus(obj) == ("-", "-")


async def test_a_capability_rolling_out_is_progressing_and_reconciling() -> None:
    obj = await reconciled(CAP, body_of(CAP, "pay", capability_spec(), "payments"))
    status, message = health(obj)
    assert status == "Progressing"
    assert "ReplicasNotReady" in message
    assert kstatus(obj) == ("True", "-")


async def test_a_refused_capability_is_degraded_and_stalled_with_the_reason() -> None:
    obj = await reconciled(CAP, body_of(CAP, "pay", capability_spec(port=80), "payments"))
    status, message = health(obj)
    assert status == "Degraded"
    assert message.startswith("PrivilegedPort")
    assert kstatus(obj) == ("-", "True")


async def test_a_capability_whose_service_name_is_taken_is_degraded() -> None:
    kube = FakeKube()
    kube.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pay", "namespace": "payments"},
              "spec": {"ports": [{"port": 80}]}})
    obj = await reconciled(CAP, body_of(CAP, "pay", capability_spec(), "payments"), kube)
    assert health(obj)[0] == "Degraded"
    assert "NameConflict" in health(obj)[1]
    assert kstatus(obj) == ("-", "True")


async def test_a_sandbox_asking_for_too_long_a_lifetime_is_degraded() -> None:
    spec = {"partner": {"name": "acme", "organisation": "Acme", "contact": "p@acme.example"}, "ttlSeconds": 10 * 86400}
    obj = await reconciled("TenantSandbox", body_of("TenantSandbox", "acme", spec))
    assert health(obj) == ("Degraded", health(obj)[1])
    assert "TTLTooLong" in health(obj)[1]


async def test_a_new_generation_not_yet_observed_is_progressing_even_if_it_was_ready() -> None:
    obj = await reconciled(CAP, body_of(CAP, "pay", capability_spec(), "payments"), passes=2, before_last=roll_out)
    obj["metadata"]["generation"] = 2
    assert health(obj) == ("Progressing", "Waiting for Finplane to observe generation 2")


def test_an_object_without_status_is_progressing() -> None:
    assert health(body_of(CAP, "pay", capability_spec(), "payments"))[0] == "Progressing"


def test_a_ready_false_without_kstatus_conditions_is_degraded_unless_progressing() -> None:
    """Statuses written before the kstatus pair existed are judged by Ready and Progressing alone."""
    obj = body_of(CAP, "pay", capability_spec(), "payments")
    obj["status"] = {"observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "False", "reason": "RegistryNotFound", "message": "create it"}]}
    assert health(obj) == ("Degraded", "RegistryNotFound: create it")
    obj["status"]["conditions"].append({"type": "Progressing", "status": "True", "reason": "RollingOut"})
    assert health(obj)[0] == "Progressing"


def test_the_argocd_cm_snippet_holds_the_script_for_every_kind() -> None:
    data = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())["data"]
    assert set(data) == {f"resource.customizations.health.finplane.io_{k.kind}" for k in KINDS}
    assert all(v == SCRIPT for v in data.values())


@pytest.mark.parametrize("gitops_doc", ["docs/gitops.md"])
def test_the_gitops_guide_points_at_the_shipped_files(gitops_doc: str) -> None:
    text = (Path(__file__).resolve().parents[2] / gitops_doc).read_text()
    assert "charts/finplane/files/argocd/argocd-cm.yaml" in text
    assert "Reconciling" in text and "Stalled" in text
