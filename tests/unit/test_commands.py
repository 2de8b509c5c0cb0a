"""The I/O halves of `finplane render` and `finplane compliance preview` (finplane.commands), without a cluster.

Covers: `render_file` prints every child of a YAML file's CRs and names the object a bad spec belongs to;
`compliance preview` reads the policy, capabilities and channels through the gateway, prints each refused
capability with its team and rules and the channels hit and the admission policy's reach (never kube-system),
closes the gateway, exits 0; a policy the cluster
cannot give back is reported on stderr with exit code 2 (not a traceback).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from finplane import API_VERSION
from finplane.commands import compliance
from finplane.commands.render import render_file
from finplane.kube.client import KubeClient
from finplane.kube.errors import NotFound
from tests.support.policy_objects import DIGEST, capability, channel

POLICY = {"metadata": {"name": "gate"}, "spec": {"mode": "audit", "rules": [
    {"id": "allowed-registries", "parameters": {"registries": ["registry.finplane.local"]}}]}}


class _Cluster:
    """The gateway calls `compliance preview` makes, answered from memory."""

    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.objects, self.closed = objects, False

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        for obj in self.objects.get(kind, []):
            if obj["metadata"]["name"] == name:
                return obj
        raise NotFound(f"{kind} {name} not found", status=404)

    async def list(self, api_version: str, kind: str, namespace: str | None = None, **_: Any) -> list[dict[str, Any]]:
        assert api_version == ("v1" if kind == "Namespace" else API_VERSION)
        return self.objects.get(kind, [])

    async def close(self) -> None:
        self.closed = True


def _connect(monkeypatch: pytest.MonkeyPatch, cluster: _Cluster) -> None:
    async def from_config(**_: Any) -> _Cluster:
        return cluster

    monkeypatch.setattr(KubeClient, "from_config", staticmethod(from_config))


def test_preview_prints_the_refused_capability_its_team_rules_and_channels(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = _Cluster({"CompliancePolicy": [POLICY],
                        "BusinessCapability": [capability("ok"), capability("foreign", image=f"docker.io/x/y@{DIGEST}")],
                        "Channel": [channel(targets=[("payments", "foreign")])],
                        "Namespace": [{"metadata": {"name": n}} for n in ("kube-system", "payments")]})
    _connect(monkeypatch, cluster)

    assert compliance.preview("gate") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "CompliancePolicy gate (mode audit): in enforce mode 1 of 2 capabilities would be refused"
    assert out[1].startswith("REFUSED BusinessCapability payments/foreign team=payments")
    assert out[2].startswith("  rule allowed-registries: ")
    assert out[3:5] == ["teams: payments", "channels: mobile"]
    assert out[5] == ("admission: ValidatingAdmissionPolicy finplane-gate failurePolicy=Fail on pods, deployments; "
                      "rules allowed-registries")
    assert out[6].startswith("  never covers: kube-node-lease, kube-public, kube-system")
    assert out[-1] == "  reaches namespaces: payments"  # never kube-system
    assert cluster.closed


def test_preview_of_a_policy_the_cluster_does_not_have_says_so_and_exits_2(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = _Cluster({})
    _connect(monkeypatch, cluster)

    assert compliance.preview("missing") == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("cannot read CompliancePolicy missing: ")
    assert captured.out == "" and cluster.closed


def test_render_file_prints_every_child_and_names_the_object_of_a_bad_spec(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("apiVersion: finplane.io/v1alpha1\nkind: BusinessCapability\n"
                    "metadata: {name: pay, namespace: payments}\n"
                    "spec: {owner: {team: payments, contact: a@b.c}, domain: payments, image: 'registry.finplane.local/pay:1.0',"
                    " version: '1.0'}\n---\n")
    out = render_file(good)
    kinds = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("kind: ")]
    assert {"ServiceAccount", "Deployment", "Service", "NetworkPolicy"} <= set(kinds)

    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: finplane.io/v1alpha1\nkind: BusinessCapability\n"
                   "metadata: {name: broken, namespace: payments}\nspec: {replicas: many}\n")
    with pytest.raises(ValueError, match="BusinessCapability broken"):
        render_file(bad)


def test_the_admission_reach_docs_compliance_md_shows_is_what_preview_prints(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from finplane.settings import get_settings
    from tests.support.paths import REPO

    monkeypatch.setenv("FINPLANE_POD_NAMESPACE", "finplane-system")
    get_settings.cache_clear()
    try:
        gate = {"metadata": {"name": "gate"}, "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}}
        names = ("finplane-system", "kube-system", "kyc", "payments")
        _connect(monkeypatch, _Cluster({"CompliancePolicy": [gate], "BusinessCapability": [], "Channel": [],
                                        "Namespace": [{"metadata": {"name": n}} for n in names]}))
        assert compliance.preview("gate") == 0
    finally:
        monkeypatch.delenv("FINPLANE_POD_NAMESPACE")
        get_settings.cache_clear()
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("admission:", "  "))]
    docs = (REPO / "docs" / "compliance.md").read_text()
    block = docs.split("```text\nadmission:", 1)[1].split("```", 1)[0]
    assert printed == ("admission:" + block).strip("\n").splitlines()
