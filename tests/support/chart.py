"""Helpers of the chart tests: where the chart is, the value sets, and rendering it with the real Helm
library (helm-python-sdk, Helm v4) into Kubernetes objects. Imported by tests/chart/conftest.py and the tests
in tests/chart/."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import yaml

from tests.support.paths import REPO

__all__ = ["CHART", "NAMESPACE", "RELEASE", "REPO", "VALUE_SETS", "find", "render"]

CHART = REPO / "charts" / "finplane"
RELEASE = "finplane"
NAMESPACE = "finplane-system"

# The value sets every rendering test runs over: defaults, and the options a bank turns on.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["payments", "cards"], "features": {"sandboxes": False}},
    "namespaced-with-sandboxes": {"watchNamespaces": ["payments"]},
    "ingress": {"api": {"ingress": {"enabled": True, "className": "nginx", "host": "platform.bank.example",
                                     "tlsSecretName": "platform-tls"}}},
    "servicemonitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}}},
    "bank": {"image": {"repository": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/platform/finplane",
                       "digest": "sha256:" + "a" * 64},
             "operator": {"serviceAccount": {"annotations": {
                 "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/finplane-operator"}},
                 "settings": {"awsRegion": "eu-central-1", "evidenceS3Bucket": "bank-finplane-evidence"}},
             "networkPolicy": {"apiServerCIDRs": ["10.0.0.0/16"]}},
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Render the chart as `helm install` would and return every object (templates, hooks included)."""
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("metadata", {}).setdefault("annotations", {})
                objects.append(doc)
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
