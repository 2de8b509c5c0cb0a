"""The evidence log, as the attacker sees it: what the operator records, and what a corrupt log does.

Covers, on the real reconcilers over the one fake gateway (tests/support/fake_kube.py) and the runtime's
one evidence recorder: a capability edited with kubectl outside the platform API is recorded naming the
kubectl field manager (an edit by the API's manager, or the same generation seen again, records nothing);
a capability deleted (with kubectl, outside the API) is recorded once, naming the last writer of its spec;
a child reverted as drift is recorded naming the manager that changed it; a sandbox's provisioning,
extension, expiry warning and teardown, and its partner credential, are recorded once each, the
credential by fingerprint only; a registry's pull Secret gives one pull-ledger entry per namespace by
fingerprint; a log truncated under the running operator, or one that does not reach the head in a
policy's status after a restart, makes the policy Ready=False / EvidenceCorrupt while its results are
still evaluated, keeps the recorded head, and asks for no retry loop.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from finplane import SANDBOX_CREDENTIAL_KEY, SANDBOX_CREDENTIAL_SECRET
from finplane.policy.evidence import LOG_NAME, read_entries
from finplane.reconcile.runtime import Runtime
from finplane.settings import Settings
from tests.support.fake_kube import FakeKube
from tests.unit.test_reconcile_branches import (
    CAP,
    POL,
    REG,
    SBX,
    RecordingRuntime,
    add,
    capability,
    echo_status,
    edit,
    namespace,
    policy,
    registry_source_secret,
    run,
    sandbox,
    static_registry,
)

Obj = dict[str, Any]


def runtime(kube: FakeKube, tmp_path: Path) -> RecordingRuntime:
    return RecordingRuntime(kube, Settings(registry_prune_grace_seconds=0, evidence_dir=str(tmp_path)))


def entries(rt: Runtime, type_: str | None = None) -> list[Obj]:
    found = [e for _, e in read_entries(rt.recorder.log.path)]
    return [e for e in found if type_ is None or e.get("type") == type_]


def managed(*entries_: tuple[str, str, Obj]) -> list[Obj]:
    return [{"manager": m, "operation": "Update", "apiVersion": "finplane.io/v1alpha1", "time": t,
             "fieldsType": "FieldsV1", "fieldsV1": f} for m, t, f in entries_]


def edited_by(body: Obj, manager: str, generation: int) -> Obj:
    new = json.loads(json.dumps(body))
    new["metadata"]["generation"] = generation
    new["spec"]["replicas"] = 5
    new["metadata"]["managedFields"] = managed(
        ("finplane-operator", "2026-01-01T00:00:00Z", {"f:spec": {"f:image": {}}}),
        (manager, "2026-01-02T00:00:00Z", {"f:spec": {"f:replicas": {}}}))
    return new


async def test_a_capability_edited_with_kubectl_is_recorded_naming_the_manager(tmp_path: Path) -> None:
    rt = runtime(FakeKube(), tmp_path)
    add(rt, capability("pay"))
    old = rt.stores[CAP][("payments", "pay")]
    new = edited_by(old, "kubectl-edit", 2)
    rt.observe(CAP, "MODIFIED", new)
    rt.observe(CAP, "MODIFIED", new)  # the same generation again (a status write, a relist): nothing new
    [entry] = entries(rt, "changed-outside-api")
    assert entry["writer"]["manager"] == "kubectl-edit"
    assert entry["object"] == {"kind": CAP, "namespace": "payments", "name": "pay", "uid": old["metadata"]["uid"]}
    assert entry["generation"] == 2


async def test_a_change_made_through_the_platform_api_is_not_reported_as_outside(tmp_path: Path) -> None:
    rt = runtime(FakeKube(), tmp_path)
    add(rt, capability("pay"))
    rt.observe(CAP, "MODIFIED", edited_by(rt.stores[CAP][("payments", "pay")], "finplane-operator", 2))
    assert entries(rt, "changed-outside-api") == []


async def test_a_capability_deleted_outside_the_api_is_recorded_once_naming_its_last_writer(tmp_path: Path) -> None:
    rt = runtime(FakeKube(), tmp_path)
    add(rt, capability("pay"))
    last = edited_by(rt.stores[CAP][("payments", "pay")], "kubectl-edit", 2)
    rt.observe(CAP, "MODIFIED", last)
    rt.observe(CAP, "DELETED", last)
    rt.observe(CAP, "DELETED", last)  # a relist delivering the deletion again: nothing new
    [entry] = entries(rt, "deleted")
    assert entry["object"] == {"kind": CAP, "namespace": "payments", "name": "pay", "uid": last["metadata"]["uid"]}
    assert entry["lastWriter"]["manager"] == "kubectl-edit" and entry["generation"] == 2
    assert entry["deletedBy"] is None  # a watch event does not say who; the API's own deletions have api-change


async def test_a_drift_correction_is_recorded_naming_who_changed_the_child(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    add(rt, capability("pay"))
    await run(rt, CAP, ("payments", "pay"))
    echo_status(rt, kube, CAP, ("payments", "pay"))
    edit(kube, "Deployment", "pay", "payments", ["metadata", "managedFields"], managed(
        ("finplane-operator", "2026-01-01T00:00:00Z", {"f:spec": {}}),
        ("kubectl-edit", "2026-01-02T00:00:00Z", {"f:spec": {"f:revisionHistoryLimit": {}}})))
    rt.child_cache.observe("MODIFIED", edit(kube, "Deployment", "pay", "payments", ["spec", "revisionHistoryLimit"], 99))
    await run(rt, CAP, ("payments", "pay"))
    [entry] = entries(rt, "drift-corrected")
    assert entry["child"] == "Deployment/payments/pay"
    assert entry["fields"] == ["spec.revisionHistoryLimit"]
    assert entry["writer"]["manager"] == "kubectl-edit"
    assert entry["object"]["name"] == "pay"


async def test_a_sandbox_lifecycle_and_its_credential_are_recorded_once_by_fingerprint(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    add(rt, sandbox("acme"))
    await run(rt, SBX, ("", "acme"))
    echo_status(rt, kube, SBX, ("", "acme"))
    await run(rt, SBX, ("", "acme"))  # an unchanged second pass records nothing
    [provisioned] = entries(rt, "sandbox-provisioned")
    assert provisioned["namespace"] == "sbx-acme"
    [warning] = entries(rt, "sandbox-expiry-warning")  # a day to live is inside the 3-day warning window
    assert warning["expiresAt"] == provisioned["expiresAt"]
    [issued] = entries(rt, "credential-issued")
    secret = kube.find("Secret", SANDBOX_CREDENTIAL_SECRET, "sbx-acme")
    assert secret is not None
    value = base64.b64decode(secret["data"][SANDBOX_CREDENTIAL_KEY]).decode()
    assert issued["fingerprint"].startswith("sha256:") and len(issued["fingerprint"]) == 71
    log_text = rt.recorder.log.path.read_text()
    assert value not in log_text and secret["data"][SANDBOX_CREDENTIAL_KEY] not in log_text

    body = rt.stores[SBX][("", "acme")]
    body["spec"]["ttlSeconds"] = 2 * 86400  # extended
    body["spec"]["credentialRotation"] = 1  # and the credential rotated
    body["metadata"]["generation"] = 2
    await run(rt, SBX, ("", "acme"))
    [extended] = entries(rt, "sandbox-extended")
    assert extended["previousExpiresAt"] == provisioned["expiresAt"] != extended["expiresAt"]
    [rotated] = entries(rt, "credential-rotated")
    assert rotated["fingerprint"] != issued["fingerprint"] and rotated["rotation"] == 1
    rotated_secret = kube.find("Secret", SANDBOX_CREDENTIAL_SECRET, "sbx-acme")
    assert rotated_secret is not None
    new_value = base64.b64decode(rotated_secret["data"][SANDBOX_CREDENTIAL_KEY]).decode()
    assert new_value != value and new_value not in rt.recorder.log.path.read_text()


async def test_a_deleted_sandbox_records_its_teardown(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    add(rt, sandbox("acme"))
    await run(rt, SBX, ("", "acme"))
    body = rt.stores[SBX][("", "acme")]
    rt.observe(SBX, "DELETED", body)
    for _ in range(3):  # kopf may deliver the deletion more than once: one entry
        await rt.controllers[SBX].reconciler._report_deletion(body)  # type: ignore[attr-defined]
    [torn] = entries(rt, "sandbox-torn-down")
    assert torn["reason"] == "Deleted" and torn["report"]["removed"] == ["Namespace/sbx-acme"]


async def test_a_pull_secret_written_into_a_namespace_gives_one_ledger_entry_by_fingerprint(tmp_path: Path) -> None:
    kube = FakeKube()
    kube.put(registry_source_secret())
    rt = runtime(kube, tmp_path)
    add(rt, static_registry(), namespace("payments", **{"finplane.io/team": "payments"}),  # a granted team
        capability("pay", registryRef="internal"))
    await run(rt, REG, ("", "internal"))
    echo_status(rt, kube, REG, ("", "internal"))
    await run(rt, REG, ("", "internal"))
    [ledger] = entries(rt, "registry-credential-issued")
    assert (ledger["namespace"], ledger["secret"]) == ("payments", "internal-pull")
    config = kube.find("Secret", "internal-pull", "payments")["data"][".dockerconfigjson"]  # type: ignore[index]
    text = rt.recorder.log.path.read_text()
    assert config not in text and base64.b64decode(config).decode() not in text
    assert base64.b64encode(b"puller:pw").decode() not in text


def corrupt_conditions(kube: FakeKube) -> tuple[str, str, str]:
    c = kube.last_conditions(POL)["Ready"]
    return c["status"], c["reason"], c["message"]


async def test_a_log_truncated_under_the_running_operator_makes_the_policy_evidence_corrupt(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    add(rt, policy(), capability("pay", image="docker.io/library/nginx:latest"))
    await run(rt, POL, ("", "baseline"))
    head = kube.statuses(POL)[-1]["evidence"]["headHash"]
    assert kube.last_conditions(POL)["Ready"]["status"] == "True"
    echo_status(rt, kube, POL, ("", "baseline"))
    path = tmp_path / LOG_NAME
    path.write_text(path.read_text().splitlines(keepends=True)[0])  # the attacker keeps only the first line
    rt.requeued.clear()
    add(rt, capability("pay", image="registry.finplane.local/payments/app:2.0.0"))  # a result that changes
    await run(rt, POL, ("", "baseline"))
    status, reason, message = corrupt_conditions(kube)
    assert (status, reason) == ("False", "EvidenceCorrupt") and "removed" in message
    last = kube.statuses(POL)[-1]
    assert last["evidence"]["headHash"] == head  # never moved onto the truncated log
    assert last["violating"] == 0 and last["compliant"] == 1  # evaluation went on
    assert [r for r in rt.requeued if r[0] == POL] == []  # no tight retry loop
    assert len(entries(rt)) == 1  # and nothing was chained onto the truncated log


async def test_a_restarted_operator_whose_log_misses_the_recorded_head_reports_evidence_corrupt(
        tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    add(rt, policy(), capability("pay", image="docker.io/library/nginx:latest"))
    await run(rt, POL, ("", "baseline"))
    body = echo_status(rt, kube, POL, ("", "baseline"))
    (tmp_path / LOG_NAME).unlink()  # the log replaced by an empty one while the operator was down
    rt2 = runtime(kube, tmp_path)
    add(rt2, body, capability("pay", image="docker.io/library/nginx:latest"))
    await run(rt2, POL, ("", "baseline"))
    status, reason, message = corrupt_conditions(kube)
    assert (status, reason) == ("False", "EvidenceCorrupt") and "does not reach the head" in message
    assert kube.statuses(POL)[-1]["evidence"]["headHash"] == body["status"]["evidence"]["headHash"]
    await run(rt2, POL, ("", "baseline"))  # still corrupt on the next pass, still nothing appended
    assert corrupt_conditions(kube)[1] == "EvidenceCorrupt"
    assert not (tmp_path / LOG_NAME).exists() or entries(rt2) == []


async def test_an_expired_sandbox_records_its_teardown_report_once(tmp_path: Path) -> None:
    kube = FakeKube()
    rt = runtime(kube, tmp_path)
    add(rt, sandbox("acme", ttlSeconds=3600))
    await run(rt, SBX, ("", "acme"))
    body = echo_status(rt, kube, SBX, ("", "acme"))
    body["metadata"]["creationTimestamp"] = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await run(rt, SBX, ("", "acme"))
    echo_status(rt, kube, SBX, ("", "acme"))
    await run(rt, SBX, ("", "acme"))  # the report is in status now: nothing more
    [torn] = entries(rt, "sandbox-torn-down")
    assert torn["reason"] == "Expired"
    assert torn["report"] == kube.statuses(SBX)[-1]["teardown"]
    assert "Namespace/sbx-acme" in torn["report"]["removed"]
