"""End-to-end: issue 16's sandbox guard rails, attacked with kubectl on the embedded API server.

Covers, with the real operator: a partner admin who edits a provisioned sandbox's `spec.expiresAt` to 2099
gets TTLTooLong, the recorded expiry does not move and the namespace is removed at that old expiry, not in
2099; the CRD itself refuses a member named `system:masters` (422 before anything is stored); the sandbox
namespace's `default` ServiceAccount says `automountServiceAccountToken: false` (so a pod in the sandbox finds
no token to read) and its field belongs to the `finplane-sandbox` field manager alone; the live RBAC gives a
member no verb that writes a Service, so none can set `externalIPs` (CVE-2020-8554).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from finplane.render.sandbox import MEMBER_ROLE
from tests.support import builders, condition, wait_for

Obj = dict[str, Any]
PARTNER = {"name": "mallory", "organisation": "Mallory Ltd", "contact": "ops@mallory.example"}


def sandbox(name: str, **spec: Any) -> Obj:
    return builders.sandbox(name, partner=PARTNER, **{"members": [{"kind": "User", "name": "dev@mallory.example"}],
                                                      **spec})


def status(cluster: Any, name: str) -> Obj:
    return (cluster.get("tenantsandbox", name) or {}).get("status") or {}


def test_an_expiry_edited_to_2099_still_tears_down_at_the_recorded_expiry(cluster: Any, operator: Any) -> None:
    cluster.apply(sandbox("edit2099", ttlSeconds=15, expiryWarningSeconds=1))
    wait_for(lambda: status(cluster, "edit2099").get("credentialHash"), what="sandbox provisioned")
    recorded = status(cluster, "edit2099")["expiresAt"]
    cluster.kubectl("patch", "tenantsandbox", "edit2099", "--type=json", "-p",
                    '[{"op": "remove", "path": "/spec/ttlSeconds"},'
                    ' {"op": "add", "path": "/spec/expiresAt", "value": "2099-01-01T00:00:00Z"}]')
    wait_for(lambda: condition(cluster.get("tenantsandbox", "edit2099"), "Ready").get("reason") == "TTLTooLong",
             what="the edit refused")
    held = status(cluster, "edit2099")
    assert held["expiresAt"] == recorded
    assert recorded in condition({"status": held}, "Ready")["message"]
    wait_for(lambda: status(cluster, "edit2099").get("phase") == "Expired", what="torn down at the old expiry")
    wait_for(lambda: cluster.get("namespace", "sbx-edit2099") is None, what="namespace removed")
    final = status(cluster, "edit2099")
    assert final["expiresAt"] == recorded and final["teardown"]["time"] >= recorded


def test_the_crd_refuses_a_member_named_system_masters(cluster: Any, operator: Any) -> None:
    body = sandbox("masters", members=[{"kind": "Group", "name": "system:masters"}])


    cp = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(body), check=False)
    assert cp.returncode != 0 and "system:" in cp.stderr
    assert cluster.get("tenantsandbox", "masters") is None


def test_the_default_account_mounts_no_token_and_members_write_no_service(cluster: Any, operator: Any) -> None:
    cluster.apply(sandbox("notoken"))
    wait_for(lambda: status(cluster, "notoken").get("credentialHash"), what="sandbox provisioned")
    sa = wait_for(lambda: cluster.get("serviceaccount", "default", "sbx-notoken"), what="default account")
    assert sa["automountServiceAccountToken"] is False
    shown = cluster.kubectl("get", "serviceaccount", "default", "-n", "sbx-notoken", "--show-managed-fields",
                            "-o", "json").stdout
    owners = [m["manager"] for m in json.loads(shown)["metadata"].get("managedFields") or []
              if "f:automountServiceAccountToken" in (m.get("fieldsV1") or {})]
    assert owners == ["finplane-sandbox"]

    role = cluster.get("role", MEMBER_ROLE, "sbx-notoken")
    service_verbs = {v for r in role["rules"] if "" in r["apiGroups"] and "services" in r["resources"]
                     for v in r["verbs"]}
    assert service_verbs and not service_verbs & {"create", "update", "patch", "delete", "*"}
