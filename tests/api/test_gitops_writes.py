"""Objects Git owns, through the platform API: with FINPLANE_API_GITOPS_WRITES=refuse they are changed in Git only.

Covers, written as the team member who tries: editing or deleting a capability that Argo CD tracks (its
tracking-id annotation) or that a Flux Kustomization applied (its labels) gets 409 `ManagedByGitOps` naming
the tool and the application, and nothing is written; dropping the tracking label from the submitted body does
not help (the live object decides); a capability no GitOps tool manages is still edited as before; creating a
new capability is never refused; with the default `allow` the API writes Git-owned objects as it always did.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from platform_api.app import create_app
from platform_api.gitops import git_owner
from platform_api.settings import ApiSettings
from tests.api.conftest import FakeWriter
from tests.support import builders

PAT = {"role": "team", "team": "payments", "subject": "pat"}
BASE = "/api/v1/teams/payments/capabilities"
ARGO = {"argocd.argoproj.io/tracking-id": "payments-prod:finplane.io/BusinessCapability:payments/pay"}
FLUX = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def spec(**extra: Any) -> dict[str, Any]:
    return {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
            "image": "registry.bank.example/pay:1.0", **extra}


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings(dev_mode=True, dev_key_dir=tmp_path / "keys", audit_log=tmp_path / "audit.jsonl",
                       evidence_dir=tmp_path / "evidence", rate_limit_per_second=1000, rate_limit_burst=1000,
                       gitops_writes="refuse")


@pytest.fixture
def client(settings: ApiSettings, cache: Any, writer: FakeWriter) -> Iterator[TestClient]:
    with TestClient(create_app(settings, cache=cache, writer=writer), raise_server_exceptions=False) as c:
        yield c


def seed(writer: FakeWriter, name: str, *, labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None) -> None:
    writer.seed(builders.capability(name, "payments", labels={"finplane.io/team": "payments", **(labels or {})},
                                    annotations=annotations, owner={"team": "payments", "contact": "p@bank.example"},
                                    image="registry.bank.example/pay:1.0"))


@pytest.mark.parametrize(("labels", "annotations", "owner"), [
    ({}, ARGO, "Argo CD application payments-prod"),
    (FLUX, None, "Flux Kustomization flux-system/apps"),
    ({"argocd.argoproj.io/instance": "payments-prod"}, None, "Argo CD application payments-prod"),
], ids=["argocd-annotation", "flux-labels", "argocd-label"])
def test_a_team_member_editing_a_git_owned_capability_gets_409_and_nothing_is_written(
        client: TestClient, as_: Any, writer: FakeWriter, labels: dict[str, str],
        annotations: dict[str, str] | None, owner: str) -> None:
    seed(writer, "pay", labels=labels, annotations=annotations)
    before = len(writer.writes)
    resp = client.put(f"{BASE}/pay", headers=as_(**PAT), json={"spec": spec(replicas=9)})
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["reason"] == "ManagedByGitOps"
    assert owner in body["detail"] and "Git" in body["detail"]
    assert client.delete(f"{BASE}/pay", headers=as_(**PAT)).status_code == 409
    assert len(writer.writes) == before
    live = writer.objects[("finplane.io/v1alpha1", "BusinessCapability", "payments", "pay")]
    assert live["spec"].get("replicas") is None


def test_a_capability_no_gitops_tool_manages_is_still_edited(client: TestClient, as_: Any,
                                                             writer: FakeWriter) -> None:
    seed(writer, "pay")
    resp = client.put(f"{BASE}/pay", headers=as_(**PAT), json={"spec": spec(replicas=3)})
    assert resp.status_code == 200, resp.text
    assert client.delete(f"{BASE}/pay", headers=as_(**PAT)).status_code == 204


def test_creating_a_capability_is_never_refused(client: TestClient, as_: Any) -> None:
    assert client.post(BASE, headers=as_(**PAT), json={"name": "new", "spec": spec()}).status_code == 201


def test_the_default_allows_writes_to_git_owned_objects(tmp_path: Path, cache: Any, writer: FakeWriter,
                                                        as_: Any) -> None:
    allow = ApiSettings(dev_mode=True, dev_key_dir=tmp_path / "keys", audit_log=tmp_path / "audit.jsonl",
                        evidence_dir=tmp_path / "evidence", rate_limit_per_second=1000, rate_limit_burst=1000)
    assert allow.gitops_writes == "allow"
    seed(writer, "pay", annotations=ARGO)
    with TestClient(create_app(allow, cache=cache, writer=writer), raise_server_exceptions=False) as c:
        assert c.put(f"{BASE}/pay", headers=as_(**PAT), json={"spec": spec(replicas=3)}).status_code == 200


def test_detection_reads_only_the_gitops_tools_markers() -> None:
    assert git_owner({"metadata": {"labels": {"app.kubernetes.io/instance": "pay"}}}) is None  # Finplane's own
    assert git_owner({"metadata": {"labels": {"app.kubernetes.io/instance": "pay"}}},
                     tracking_labels=["app.kubernetes.io/instance"]) == "Argo CD application pay"
    assert git_owner({"metadata": {"labels": {"helm.toolkit.fluxcd.io/name": "fin"}}}) == "Flux HelmRelease fin"
    assert git_owner(None) is None
