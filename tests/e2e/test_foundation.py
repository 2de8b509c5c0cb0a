"""The foundation as a newcomer meets it: the README's first command, the CRDs, kubectl, 422s, offline render.

Covers (issue 3's "done when"): `finplane dev --once` brings every example to Ready on the embedded API
server and prints the summary with a usable KUBECONFIG; `kubectl apply -f crds/` installs the CRDs and
`kubectl get finplane -A` lists Finplane objects of every kind; a CR violating its schema is refused with a
422 that names the field; `finplane render` prints valid manifests offline, with no cluster; `finplane crds`
regenerates exactly the committed CRDs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.support import Cluster

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def finplane(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
             timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "finplane", *args], capture_output=True, text=True, cwd=cwd,
                          env=env or dict(os.environ), timeout=timeout, check=False)


def test_finplane_dev_brings_every_example_to_ready_and_prints_a_usable_kubeconfig(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    env = {**os.environ, "FINPLANE_API_DEV_KEY_DIR": str(tmp_path / "keys"), "COLUMNS": "200"}
    env.pop("KUBECONFIG", None)
    cp = finplane("dev", "--once", "--state-dir", str(state), env=env)
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr[-2000:]
    for name in ("payments/payments-api", "kyc/kyc-check", "open-api", "acmepay", "baseline", "internal"):
        assert name in cp.stdout
    assert "False" not in cp.stdout.split("Finplane examples")[1].split("Embedded API server")[0]
    assert f"export KUBECONFIG={state / 'kubeconfig'}" in cp.stdout
    assert "Stopped." in cp.stdout


def test_kubectl_lists_every_finplane_kind_through_the_category(cluster: Cluster) -> None:
    for f in sorted((REPO / "examples").glob("*.yaml")):
        cluster.kubectl("apply", "--server-side", "-f", str(f))
    out = cluster.kubectl("get", "finplane", "-A").stdout
    for kind in ("businesscapability.finplane.io/payments-api", "channel.finplane.io/mobile",
                 "tenantsandbox.finplane.io/acmepay", "imageregistry.finplane.io/internal",
                 "compliancepolicy.finplane.io/baseline"):
        assert kind in out


def test_a_cr_violating_its_schema_is_refused_with_a_422_naming_the_field(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "examples" / "00-namespaces.yaml"))
    bad = {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
           "metadata": {"name": "bad", "namespace": "payments"},
           "spec": {"owner": {"team": "payments", "contact": "p@x"}, "domain": "payments",
                    "image": "reg.local/p/app:1", "replicas": -1, "dataClassification": "secret"}}
    cp = cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert cp.returncode != 0
    assert "is invalid" in cp.stderr and "spec.replicas" in cp.stderr and "spec.dataClassification" in cp.stderr
    assert cluster.get("businesscapability", "bad", "payments") is None


def test_finplane_render_prints_valid_manifests_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["KUBECONFIG"] = str(tmp_path / "does-not-exist")  # proves no cluster is contacted
    cp = finplane("render", "-f", str(REPO / "examples" / "20-capabilities.yaml"), env=env, timeout=60)
    assert cp.returncode == 0, cp.stderr
    docs = [d for d in yaml.safe_load_all(cp.stdout) if d]
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "ServiceAccount", "NetworkPolicy",
                                          "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    for d in docs:
        kubernetes_validate.validate(d, "1.31", strict=True)


def test_finplane_render_refuses_a_bad_cr_with_a_message_naming_it(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
                                 "metadata": {"name": "loop", "namespace": "p"},
                                 "spec": {"owner": {"team": "p", "contact": "p@x"}, "domain": "p",
                                          "image": "reg.local/p/app:1", "dependencies": [{"name": "loop"}]}}))
    cp = finplane("render", "-f", str(f), timeout=60)
    assert cp.returncode != 0
    assert "SelfDependency" in cp.stderr + cp.stdout


def test_finplane_crds_regenerates_exactly_the_committed_manifests(tmp_path: Path) -> None:
    out = tmp_path / "crds"
    cp = finplane("crds", "--out", str(out), timeout=60)
    assert cp.returncode == 0, cp.stderr
    committed_crds = sorted((REPO / "crds").glob("finplane.io_*.yaml"))
    assert committed_crds, "crds/ holds no Finplane CRDs"
    for committed in committed_crds:
        assert (out / committed.name).read_text() == committed.read_text(), committed.name
