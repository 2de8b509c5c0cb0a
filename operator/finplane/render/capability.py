"""Render a BusinessCapability into its children: ServiceAccount, Deployment, Service, PDB, HPA, NetworkPolicies.

Pure: (name, namespace, spec, settings, context) -> complete manifests, no I/O. Called by the
capability reconciler and by `finplane render`. Pods follow the restricted Pod Security profile.
Owner references and the rendering hash are added by the reconciler (`reconcile.children.stamp`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.render.image import parse_image
from finplane.render.labels import capability_labels, selector_labels
from finplane.render.registry import pull_secret_name
from finplane.render.slo import metrics_ingress
from finplane.settings import Settings

__all__ = ["CapabilityContext", "render_capability", "version_of"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class CapabilityContext:
    """What the renderer needs to know about other objects (gathered by the reconciler from its caches)."""

    dependents: tuple[tuple[str, str], ...] = ()  # (namespace, name) of capabilities depending on this one
    dependency_ports: dict[tuple[str, str], int] = field(default_factory=dict)
    sandbox_namespaces: tuple[str, ...] = ()  # namespaces of partner sandboxes allowed to call this capability
    pull_secret: str | None = None  # the registry's spec.secretName, when it names one


def version_of(spec: BusinessCapabilitySpec) -> str | None:
    if spec.version:
        return spec.version
    try:
        ref = parse_image(spec.image)
    except ValueError:
        return None
    return ref.tag or (ref.digest[7:19] if ref.digest else None)


def render_capability(*, name: str, namespace: str, spec: BusinessCapabilitySpec, settings: Settings,
                      ctx: CapabilityContext | None = None) -> list[Obj]:
    """Every child of the capability, in apply order: NetworkPolicies, ServiceAccount, Service, PDB, HPA, Deployment."""
    ctx = ctx or CapabilityContext()
    labels = capability_labels(name=name, team=spec.owner.team, domain=spec.domain,
                               classification=str(spec.data_classification), version=version_of(spec))

    def meta(obj_name: str = name) -> Obj:
        return {"name": obj_name, "namespace": namespace, "labels": dict(labels)}

    secret = (ctx.pull_secret or pull_secret_name(spec.registry_ref)) if spec.registry_ref else None
    # Isolation first, the workload last: `sync_children` applies in this order and stops at a child the
    # API server refuses, so pods never run without their default-deny NetworkPolicy.
    children: list[Obj] = [*_network_policies(meta, name, namespace, spec, settings, ctx),
                           _service_account(meta(), secret), _service(meta(), name, spec)]
    min_replicas = spec.autoscaling.min_replicas if spec.autoscaling else spec.replicas
    if min_replicas > 1:
        children.append({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(name)}},
        })
    if spec.autoscaling:
        a = spec.autoscaling
        children.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": a.min_replicas, "maxReplicas": a.max_replicas,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": a.target_cpu_utilization_percentage}}}],
            },
        })
    children.append(_deployment(meta(), name, spec, settings, labels, secret))
    return children


def _service_account(metadata: Obj, pull_secret: str | None) -> Obj:
    sa: Obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata,
               "automountServiceAccountToken": False}
    if pull_secret:
        sa["imagePullSecrets"] = [{"name": pull_secret}]
    return sa


def _resources(spec: BusinessCapabilitySpec, settings: Settings) -> Obj:
    d = settings.default_resources
    req = spec.resources.requests if spec.resources and spec.resources.requests else None
    lim = spec.resources.limits if spec.resources and spec.resources.limits else None
    return {
        "requests": {"cpu": str(req.cpu if req and req.cpu is not None else d.cpu_request),
                     "memory": str(req.memory if req and req.memory is not None else d.memory_request)},
        "limits": {"cpu": str(lim.cpu if lim and lim.cpu is not None else d.cpu_limit),
                   "memory": str(lim.memory if lim and lim.memory is not None else d.memory_limit)},
    }


def _deployment(metadata: Obj, name: str, spec: BusinessCapabilitySpec, settings: Settings,
                labels: dict[str, str], pull_secret: str | None) -> Obj:
    probe = {"httpGet": {"path": spec.health_path, "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 2}
    env = [{"name": c.name, "value": c.value} for c in spec.config] + [
        {"name": s.name, "valueFrom": {"secretKeyRef": {"name": s.secret_ref.name, "key": s.secret_ref.key}}}
        for s in spec.secret_refs]
    container: Obj = {
        "name": "app",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "resources": _resources(spec, settings),
        "livenessProbe": {**probe, "initialDelaySeconds": 10, "failureThreshold": 3},
        "readinessProbe": {**probe, "failureThreshold": 2},
        "securityContext": {
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if env:
        container["env"] = env
    pod_spec: Obj = {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "ScheduleAnyway",
                                       "labelSelector": {"matchLabels": selector_labels(name)}}],
    }
    if pull_secret:
        pod_spec["imagePullSecrets"] = [{"name": pull_secret}]
    dep_spec: Obj = {
        "selector": {"matchLabels": selector_labels(name)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "revisionHistoryLimit": 5,
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
    }
    if not spec.autoscaling:  # with an HPA, replicas belong to the autoscaler (not in our applied set)
        dep_spec["replicas"] = spec.replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": dep_spec}


def _service(metadata: Obj, name: str, spec: BusinessCapabilitySpec) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": {
        "type": "ClusterIP", "selector": selector_labels(name),
        "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
    }}


def _network_policies(meta: Any, name: str, namespace: str, spec: BusinessCapabilitySpec, settings: Settings,
                      ctx: CapabilityContext) -> list[Obj]:
    pods = {"matchLabels": selector_labels(name)}
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(f"{name}-default-deny"),
            "spec": {"podSelector": pods, "policyTypes": ["Ingress", "Egress"]}}
    dns_key, _, dns_value = settings.dns_pod_label.partition("=")
    egress: list[Obj] = [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.dns_namespace}},
                "podSelector": {"matchLabels": {dns_key: dns_value}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }]
    for dep in spec.dependencies:
        dep_ns = dep.namespace or namespace
        rule: Obj = {"to": [_peer(dep_ns, dep.name)]}
        port = ctx.dependency_ports.get((dep_ns, dep.name))
        if port:
            rule["ports"] = [{"protocol": "TCP", "port": port}]
        egress.append(rule)
    ingress: list[Obj] = []
    if ctx.dependents:
        ingress.append({"from": [_peer(ns, n) for ns, n in sorted(ctx.dependents)],
                        "ports": [{"protocol": "TCP", "port": spec.port}]})
    ingress += metrics_ingress(spec, settings)  # Prometheus scrapes a capability that declares an SLO
    if ctx.sandbox_namespaces:  # partner sandboxes whose spec lists this capability (any pod of theirs)
        ingress.append({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": sns}}}
                                 for sns in sorted(ctx.sandbox_namespaces)],
                        "ports": [{"protocol": "TCP", "port": spec.port}]})
    allow = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(f"{name}-allow"),
             "spec": {"podSelector": pods, "policyTypes": ["Ingress", "Egress"], "ingress": ingress,
                      "egress": egress}}
    return [deny, allow]


def _peer(namespace: str, capability: str) -> Obj:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "podSelector": {"matchLabels": {"finplane.io/capability": capability}}}
