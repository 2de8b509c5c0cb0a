"""End-to-end: the API server itself refuses names a capability, sandbox or registry cannot live with.

Covers (issue 14, "validate before the first write"): the CRDs' CEL rules on metadata.name make
`kubectl apply` fail for a capability named `pay.v2`, `1pay` or with 64 characters (its Service name
must be a DNS-1035 label), and for a registry name longer than a label value, with a message saying why;
a valid name is accepted. A real API server ignores schemas on ObjectMeta, so only CEL at the root says it.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support import Cluster

pytestmark = pytest.mark.e2e


def capability(name: str) -> dict[str, Any]:
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": name, "namespace": "payments"},
            "spec": {"owner": {"team": "payments", "contact": "p@bank.example"}, "domain": "payments",
                     "image": "registry.finplane.local/payments/app:1.0.0"}}


def apply(cluster: Cluster, obj: dict[str, Any]) -> tuple[int, str]:
    cp = cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(obj), check=False)
    return cp.returncode, cp.stderr + cp.stdout


@pytest.mark.parametrize("name", ["pay.v2", "1pay", "p" * 64])
def test_a_capability_name_that_cannot_be_a_service_name_is_refused_by_the_api_server(cluster: Cluster,
                                                                                      name: str) -> None:
    cluster.kubectl("create", "namespace", "payments")
    code, out = apply(cluster, capability(name))
    assert code != 0 and "metadata.name must" in out, out
    assert cluster.get("businesscapability", name, "payments") is None
    assert apply(cluster, capability("pay-v2"))[0] == 0


def test_a_registry_name_longer_than_a_label_value_is_refused_by_the_api_server(cluster: Cluster) -> None:
    registry = {"apiVersion": "finplane.io/v1alpha1", "kind": "ImageRegistry", "metadata": {"name": "r" * 64},
                "spec": {"kind": "static", "server": "registry.finplane.local",
                         "static": {"secretRef": {"name": "creds", "namespace": "finplane-system"}}}}
    code, out = apply(cluster, registry)
    assert code != 0 and "at most 63 characters" in out, out
