"""End-to-end: a TenantSandbox's expiry, driven by the queue's timers rather than polling.

Covers: a short-TTL sandbox turns Expiring (condition and Warning event), then at expiry its
namespace and credential are removed, the CR stays with phase Expired, a teardown report (time,
reason, removed objects) in status, a TornDown event and a log line; a later extension does not
revive an expired sandbox nor move the expiry it reports; an operator restarted inside the Expiring window (with the warning
window coming from FINPLANE_SANDBOX_EXPIRY_WARNING_SECONDS) still tears the sandbox down; a TTL
above the platform maximum is refused as TTLTooLong and nothing is provisioned.
"""

from __future__ import annotations

from typing import Any

from tests.support import builders, condition, wait_for


def sandbox(name: str, **spec: Any) -> dict[str, Any]:
    return builders.sandbox(name, partner={"name": name, "organisation": "X Ltd", "contact": "ops@x.example"},
                            **{"members": [{"kind": "User", "name": "dev@x.example"}], **spec})


def phase(cluster: Any, name: str) -> str | None:
    return ((cluster.get("tenantsandbox", name) or {}).get("status") or {}).get("phase")


def test_a_short_lived_sandbox_warns_then_is_torn_down_and_stays_expired(cluster: Any, operator: Any) -> None:
    cluster.apply(sandbox("brief", ttlSeconds=8, expiryWarningSeconds=6))
    wait_for(lambda: cluster.get("secret", "partner-api-credential", "sbx-brief"), what="credential issued")
    wait_for(lambda: phase(cluster, "brief") == "Expiring", what="phase Expiring")
    assert condition(cluster.get("tenantsandbox", "brief"), "Expiring")["status"] == "True"
    wait_for(lambda: phase(cluster, "brief") == "Expired", what="phase Expired")
    wait_for(lambda: cluster.get("namespace", "sbx-brief") is None, what="namespace removed")
    status = cluster.get("tenantsandbox", "brief")["status"]
    assert condition({"status": status}, "Expired")["status"] == "True"
    assert status["teardown"]["reason"] == "Expired"
    assert "Secret/sbx-brief/partner-api-credential" in status["teardown"]["removed"]
    assert status["teardown"]["time"] >= status["expiresAt"]
    assert "credentialHash" not in status and "credentialSecretRef" not in status
    reasons = {e["reason"] for e in cluster.list("events", namespace="default")
               if e["involvedObject"].get("name") == "brief"}
    assert {"Expiring", "TornDown", "CredentialIssued"} <= reasons
    assert "Tore down sandbox brief at expiry" in operator.logs()

    generation = cluster.get("tenantsandbox", "brief")["metadata"]["generation"]
    cluster.apply(sandbox("brief", ttlSeconds=3600, expiryWarningSeconds=6))  # too late to extend
    wait_for(lambda: cluster.get("tenantsandbox", "brief")["status"].get("observedGeneration", 0) > generation,
             what="the extension observed")
    assert phase(cluster, "brief") == "Expired"
    assert cluster.get("tenantsandbox", "brief")["status"]["expiresAt"] == status["expiresAt"]  # when it ended
    assert cluster.get("namespace", "sbx-brief") is None


def test_an_operator_restarted_inside_the_expiring_window_still_tears_down(cluster: Any, operator: Any) -> None:
    operator.stop()
    operator.extra_env["FINPLANE_SANDBOX_EXPIRY_WARNING_SECONDS"] = "7"
    operator.start()
    cluster.apply(sandbox("restart", ttlSeconds=9))
    wait_for(lambda: phase(cluster, "restart") == "Expiring", what="phase Expiring")
    operator.stop()
    assert cluster.get("namespace", "sbx-restart") is not None
    operator.start()
    wait_for(lambda: phase(cluster, "restart") == "Expired", what="phase Expired after the restart")
    wait_for(lambda: cluster.get("namespace", "sbx-restart") is None, what="namespace removed")
    assert operator.logs().count("Tore down sandbox restart") == 1


def test_a_lifetime_above_the_platform_maximum_is_refused(cluster: Any, operator: Any) -> None:
    cluster.apply(sandbox("forever", ttlSeconds=365 * 24 * 3600))
    wait_for(lambda: phase(cluster, "forever") == "Failed", what="phase Failed")
    assert condition(cluster.get("tenantsandbox", "forever"), "Ready")["reason"] == "TTLTooLong"
    assert cluster.get("namespace", "sbx-forever") is None
