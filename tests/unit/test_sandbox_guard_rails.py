"""The sandbox guard rails of issue 16, attacked as the partner they keep out, through the one controller loop.

Covers, on the real sandbox reconciler over the fake gateway (tests/support/fake_kube.py): a partner admin who
`kubectl edit`s a provisioned sandbox's `spec.expiresAt` to 2099 (TTLTooLong), or to a spec the model refuses
(InvalidSpec), gets nothing of it applied and the sandbox torn down at the expiry recorded by the last valid pass,
with conditions saying so; an edit into the past tears it down at once; a member named `system:masters` or
`system:authenticated` is refused by the reconciler (InvalidSpec) and by the CRD's CEL rule, and no RoleBinding
names it; the namespace's `default` ServiceAccount says `automountServiceAccountToken: false`, written under the
sandbox's own field manager with that field only, keeping the registry's imagePullSecrets, put back when someone
turns it on, and costing no write when already so; members hold no write verb on Services (externalIPs,
CVE-2020-8554).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml

import finplane.reconcile.sandbox as sandbox_module
from finplane.models.tenant_sandbox import TenantSandboxSpec
from finplane.names import OWNER_LABEL
from finplane.render.sandbox import MEMBER_RULES, member_problem
from tests.support.fake_kube import FakeKube
from tests.unit.test_reconcile_branches import SBX, add, conditions, echo_status, run, runtime, sandbox

Obj = dict[str, Any]
KEY = ("", "acme")
NS = "sbx-acme"
CRD = Path(__file__).resolve().parents[2] / "crds" / "finplane.io_tenantsandboxes.yaml"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def provisioned(kube: FakeKube, **spec: Any) -> Any:
    """A sandbox created an hour ago with a day to live, provisioned and its status echoed back."""
    rt = runtime(kube, sandbox_max_ttl_seconds=90 * 86400)
    body = sandbox("acme", members=[{"kind": "User", "name": "dev@acme.example"}], **spec)
    body["metadata"]["creationTimestamp"] = iso(datetime.now(UTC) - timedelta(hours=1))
    add(rt, body)
    await run(rt, SBX, KEY)
    echo_status(rt, kube, SBX, KEY)
    assert conditions(rt.stores[SBX][KEY])["Ready"]["status"] == "True"
    return rt


def edit(rt: Any, **spec: Any) -> Obj:
    """What `kubectl edit` does to the stored CR: a new spec, a new generation."""
    body = rt.stores[SBX][KEY]
    body["spec"] = {k: v for k, v in {**body["spec"], **spec}.items() if v is not None}
    body["metadata"]["generation"] += 1
    return body


def later(seconds: float) -> type[datetime]:
    """A clock `seconds` ahead, for the sandbox reconciler only (its timeline reads `datetime.now`)."""
    real = datetime.now(UTC)

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Later:  # type: ignore[override]
            return real + timedelta(seconds=seconds)  # type: ignore[return-value]
    return Later


# -- finding 3: a provisioned sandbox whose spec turns invalid keeps its old expiry --------------------
@pytest.mark.parametrize(("change", "reason"), [
    ({"ttlSeconds": None, "expiresAt": "2099-01-01T00:00:00Z"}, "TTLTooLong"),  # beyond the platform maximum
    ({"ttlSeconds": 10 ** 9}, "InvalidSpec"),  # beyond the schema's ceiling (a CRD that forgot it)
], ids=["expiresAt-2099", "ttlSeconds-invalid"])
async def test_a_partner_who_edits_the_expiry_away_is_torn_down_at_the_recorded_expiry(
        change: Obj, reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    kube = FakeKube()
    rt = await provisioned(kube)
    recorded = rt.stores[SBX][KEY]["status"]["expiresAt"]
    binding = copy.deepcopy(kube.find("RoleBinding", "sandbox-members", NS))
    writes = len(kube.writes())
    edit(rt, **change)
    rt.requeued.clear()
    await run(rt, SBX, KEY)

    assert [c.verb for c in kube.writes()[writes:]] == ["patch_status"]  # nothing of the new spec applied
    status = kube.statuses(SBX)[-1]
    assert status["expiresAt"] == recorded
    conds = {c["type"]: c for c in status["conditions"]}
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", reason)
    assert "torn down then" in conds["Ready"]["message"] and recorded in conds["Ready"]["message"]
    assert conds["Expiring"]["status"] == "True" and recorded in conds["Expiring"]["message"]
    delays = [d for kind, key, d in rt.requeued if key == KEY]
    assert delays and 0 < delays[-1] <= 23 * 3600 + 1  # woken at the recorded expiry, not in 2099
    assert kube.find("Namespace", NS) is not None and kube.find("RoleBinding", "sandbox-members", NS) == binding

    echo_status(rt, kube, SBX, KEY)
    monkeypatch.setattr(sandbox_module, "datetime", later(23 * 3600 + 5))  # the recorded expiry has passed
    await run(rt, SBX, KEY)
    assert kube.find("Namespace", NS) is None
    final = kube.statuses(SBX)[-1]
    assert final["phase"] == "Expired" and final["expiresAt"] == recorded
    assert {c["type"]: c["status"] for c in final["conditions"]}["Expired"] == "True"
    assert final["teardown"]["reason"] == "Expired" and f"Namespace/{NS}" in final["teardown"]["removed"]


async def test_a_refused_edit_cannot_move_the_recorded_expiry_on_a_later_pass() -> None:
    kube = FakeKube()
    rt = await provisioned(kube)
    recorded = rt.stores[SBX][KEY]["status"]["expiresAt"]
    edit(rt, ttlSeconds=None, expiresAt="2099-01-01T00:00:00Z")
    await run(rt, SBX, KEY)
    echo_status(rt, kube, SBX, KEY)
    edit(rt, expiresAt="2098-01-01T00:00:00Z")  # and again, hoping the second refusal forgets the first
    await run(rt, SBX, KEY)
    assert kube.statuses(SBX)[-1]["expiresAt"] == recorded


async def test_an_edit_into_the_past_tears_the_sandbox_down_at_once() -> None:
    kube = FakeKube()
    rt = await provisioned(kube)
    edit(rt, ttlSeconds=None, expiresAt=iso(datetime.now(UTC) - timedelta(minutes=5)))
    await run(rt, SBX, KEY)
    assert kube.find("Namespace", NS) is None
    assert kube.statuses(SBX)[-1]["phase"] == "Expired"


async def test_a_valid_extension_within_the_maximum_moves_the_expiry() -> None:
    kube = FakeKube()
    rt = await provisioned(kube)
    edit(rt, ttlSeconds=10 * 86400)
    await run(rt, SBX, KEY)
    status = kube.statuses(SBX)[-1]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    created = datetime.fromisoformat(rt.stores[SBX][KEY]["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    assert status["expiresAt"] == iso(created + timedelta(days=10))


# -- finding 12: system: members ------------------------------------------------------------------
@pytest.mark.parametrize("member", ["system:masters", "system:authenticated", "system:serviceaccount:kube-system:x"])
def test_a_system_member_is_named_by_the_reconcilers_check(member: str) -> None:
    spec = TenantSandboxSpec.model_validate({
        "partner": {"name": "acme", "organisation": "Acme", "contact": "p@acme.example"}, "ttlSeconds": 60,
        "members": [{"kind": "User", "name": "dev@acme.example"}, {"kind": "Group", "name": member}]})
    problem = member_problem(spec)
    assert problem is not None and problem.startswith("spec.members[1].name:")


def _member_rules_of_crd() -> list[Obj]:
    crd = yaml.safe_load(CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return list(schema["properties"]["spec"]["properties"]["members"]["items"]["x-kubernetes-validations"])


@pytest.mark.parametrize(("member", "admitted"), [("system:masters", False), ("system:authenticated", False),
                                                  ("dev@acme.example", True), ("partner:system:x", True)])
def test_the_crd_refuses_a_system_member_before_it_is_stored(member: str, admitted: bool) -> None:
    env = celpy.Environment()
    for rule in _member_rules_of_crd():
        program = env.program(env.compile(rule["rule"]))
        result = program.evaluate({"self": celpy.json_to_cel({"kind": "Group", "name": member})})
        assert bool(result) is admitted


async def test_a_sandbox_naming_system_masters_binds_nobody() -> None:
    kube = FakeKube()
    rt = runtime(kube)
    add(rt, sandbox("acme", members=[{"kind": "Group", "name": "system:masters"}]))
    await run(rt, SBX, KEY)
    assert kube.find("RoleBinding", "sandbox-members", NS) is None and kube.find("Namespace", NS) is None
    assert kube.last_conditions(SBX)["Ready"]["reason"] == "InvalidSpec"


async def test_a_provisioned_sandbox_edited_to_add_system_masters_keeps_its_old_members() -> None:
    kube = FakeKube()
    rt = await provisioned(kube)
    edit(rt, members=[{"kind": "Group", "name": "system:masters"}])
    await run(rt, SBX, KEY)
    subjects = kube.find("RoleBinding", "sandbox-members", NS)["subjects"]
    assert [s["name"] for s in subjects] == ["dev@acme.example"]
    assert kube.last_conditions(SBX)["Ready"]["reason"] == "InvalidSpec"


# -- finding 12: the default ServiceAccount's token -------------------------------------------------
async def test_the_default_service_account_does_not_automount_its_token() -> None:
    kube = FakeKube()
    await provisioned(kube)
    sa = kube.find("ServiceAccount", "default", NS)
    assert sa is not None and sa["automountServiceAccountToken"] is False
    applies = [c for c in kube.writes("ServiceAccount")]
    assert [(c.verb, c.field_manager) for c in applies] == [("apply", "finplane-sandbox")]
    assert OWNER_LABEL not in (sa["metadata"].get("labels") or {})  # not a child: the registry may wire it


async def test_the_sandbox_keeps_the_registry_pull_secret_and_costs_no_write_when_already_off() -> None:
    kube = FakeKube()
    kube.put({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": NS},
              "imagePullSecrets": [{"name": "finplane-pull-internal"}]})
    rt = await provisioned(kube)
    sa = kube.find("ServiceAccount", "default", NS)
    assert sa["imagePullSecrets"] == [{"name": "finplane-pull-internal"}] and sa["automountServiceAccountToken"] is False
    before = len(kube.writes("ServiceAccount"))
    await run(rt, SBX, KEY)  # a resync
    assert len(kube.writes("ServiceAccount")) == before


async def test_a_token_automount_turned_back_on_is_turned_off_again() -> None:
    kube = FakeKube()
    rt = await provisioned(kube)
    kube.find("ServiceAccount", "default", NS)["automountServiceAccountToken"] = True  # a hand edit
    sa = kube.find("ServiceAccount", "default", NS)
    woken = list(rt.controllers[SBX].reconciler._account_changed("MODIFIED", sa, None))
    assert woken == [KEY]
    await run(rt, SBX, KEY)
    assert kube.find("ServiceAccount", "default", NS)["automountServiceAccountToken"] is False


# -- finding 12: Services with externalIPs ----------------------------------------------------------
def test_members_cannot_write_services_so_cannot_set_external_ips() -> None:
    writes = {"create", "update", "patch", "delete", "*"}
    for rule in MEMBER_RULES:
        if "" in rule["apiGroups"] and ("services" in rule["resources"] or "*" in rule["resources"]):
            assert not writes & set(rule["verbs"]), rule
