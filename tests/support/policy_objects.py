"""Objects shared by the policy unit tests: a capability, a Deployment, a sandbox, a channel, as a store holds
them (with uids; the sandbox with the namespace its status names). Built on tests/support/builders.py."""

from __future__ import annotations

import copy
from typing import Any

from finplane.policy.engine import capability_subject
from finplane.policy.subject import Subject
from finplane.settings import Settings
from tests.support import builders

DIGEST = "sha256:" + "a" * 64


def capability(name: str = "payments-api", ns: str = "payments", **spec: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"owner": {"team": ns, "contact": f"{ns}@bank.example"}, "domain": ns,
                                "image": f"registry.finplane.local/{ns}/{name}:1.4.2", "replicas": 2,
                                "dataClassification": "confidential", "criticality": "high"}
    return builders.capability(name, ns, uid=f"uid-{name}", **{**defaults, **spec})


def cap_subject(**spec: Any) -> Subject:
    return capability_subject(capability(**spec), Settings())


def deployment(name: str = "legacy", ns: str = "payments", *, image: str = "registry.finplane.local/x/y:1.0",
               sc: dict[str, Any] | None = None, pod_sc: dict[str, Any] | None = None,
               limits: dict[str, str] | None = None, labels: dict[str, str] | None = None,
               replicas: int = 1) -> dict[str, Any]:
    container = {"name": "app", "image": image, "securityContext": copy.deepcopy(sc or {}),
                 "resources": {"limits": limits} if limits is not None else {}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {})},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": name}},
                                                        "spec": {"securityContext": pod_sc or {},
                                                                 "containers": [container]}}}}


SAFE_SC = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True}


def sandbox(name: str = "acme", *, ttl: int | None = 86400, ns: str | None = "sbx-acme",
            images: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"partner": {"name": name, "organisation": "Acme Fintech", "contact": "a@acme.example"},
                            "allowedImages": images or ["registry.finplane.local/partners/*"]}
    if ttl is not None:
        spec["ttlSeconds"] = ttl
    else:
        spec["expiresAt"] = "2030-01-01T00:00:00Z"
    body = builders.sandbox(name, uid="uid-sbx", status={"namespace": ns} if ns else {}, **spec)
    body["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    return body


def channel(name: str = "mobile", type_: str = "mobile", targets: list[tuple[str, str]] | None = None,
            labels: dict[str, str] | None = None) -> dict[str, Any]:
    routes = [builders.route(f"r{i}", ns, n, f"/{n}") for i, (ns, n) in enumerate(targets or [("payments", "payments-api")])]
    return builders.channel(name, routes, type_=type_, uid=f"uid-{name}", labels=dict(labels or {}))


def deny_all(ns: str, name: str = "default-deny") -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def quota(ns: str, hard: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "quota", "namespace": ns},
            "spec": {"hard": hard}}
