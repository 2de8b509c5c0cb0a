"""Bodies of Finplane's custom resources (and Namespaces) for tests, with defaults a valid object needs.

Every test that builds a CR body calls these instead of spelling the body out; a test passes what it is
about as keywords (spec fields by their camelCase names, e.g. `replicas=2, dataClassification="restricted"`)
and gets the rest filled in. Metadata beyond the name comes through `labels`, `annotations` and `uid`;
`status` is for tests that feed a store or a fake gateway an object as the operator would have left it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["API_VERSION", "IMAGE", "OWNER", "capability", "channel", "compliance_policy", "image_registry",
           "namespace", "route", "sandbox", "team"]

Obj = dict[str, Any]

API_VERSION = "finplane.io/v1alpha1"
OWNER: Obj = {"team": "payments", "contact": "p@bank.example"}
IMAGE = "registry.finplane.local/payments/app:1.0.0"


def _resource(kind: str, name: str, namespace: str | None, spec: Obj, *, labels: dict[str, str] | None,
              annotations: dict[str, str] | None, uid: str | None, status: Obj | None) -> Obj:
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels is not None:
        meta["labels"] = dict(labels)
    if annotations is not None:
        meta["annotations"] = dict(annotations)
    if uid is not None:
        meta["uid"] = uid
    body: Obj = {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}
    if status is not None:
        body["status"] = status
    return body


def namespace(name: str, *, labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name} if labels is None else {"name": name, "labels": dict(labels)}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def capability(name: str, namespace: str = "payments", *, owner: Obj | None = None, domain: str = "payments",
               image: str = IMAGE, labels: dict[str, str] | None = None,
               annotations: dict[str, str] | None = None, uid: str | None = None, status: Obj | None = None,
               **spec: Any) -> Obj:
    """A BusinessCapability; the owner defaults to the payments team."""
    return _resource("BusinessCapability", name, namespace,
                     {"owner": dict(owner or OWNER), "domain": domain, "image": image, **spec},
                     labels=labels, annotations=annotations, uid=uid, status=status)


def sandbox(name: str, *, partner: Obj | None = None, labels: dict[str, str] | None = None,
            annotations: dict[str, str] | None = None, uid: str | None = None, status: Obj | None = None,
            **spec: Any) -> Obj:
    """A TenantSandbox (cluster-scoped); the partner defaults to one named like the sandbox, the lifetime to a
    day (`ttlSeconds`) unless the test gives `ttlSeconds` or `expiresAt`."""
    partner = partner or {"name": name, "organisation": f"{name} Ltd", "contact": f"ops@{name}.example"}
    if "ttlSeconds" not in spec and "expiresAt" not in spec:
        spec["ttlSeconds"] = 86400
    return _resource("TenantSandbox", name, None, {"partner": dict(partner), **spec},
                     labels=labels, annotations=annotations, uid=uid, status=status)


def route(name: str, namespace: str, capability: str, path_prefix: str | None = None, **extra: Any) -> Obj:
    """One route of a Channel to the capability `namespace/capability`."""
    r: Obj = {"name": name, "capability": {"namespace": namespace, "name": capability}}
    if path_prefix is not None:
        r["pathPrefix"] = path_prefix
    return {**r, **extra}


def channel(name: str, routes: list[Obj], *, type_: str = "mobile", hostnames: list[str] | None = None,
            labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
            uid: str | None = None, status: Obj | None = None, **spec: Any) -> Obj:
    """A Channel (cluster-scoped) serving `routes` on `<name>.bank.example` unless `hostnames` say otherwise."""
    return _resource("Channel", name, None,
                     {"type": type_, "hostnames": list(hostnames or [f"{name}.bank.example"]), "routes": routes,
                      **spec},
                     labels=labels, annotations=annotations, uid=uid, status=status)


def image_registry(name: str, *, labels: dict[str, str] | None = None, status: Obj | None = None,
                   **spec: Any) -> Obj:
    """An ImageRegistry (cluster-scoped) with exactly the spec given."""
    return _resource("ImageRegistry", name, None, dict(spec), labels=labels, annotations=None, uid=None,
                     status=status)


def compliance_policy(name: str, rules: list[Obj], *, mode: str = "audit", waivers: list[Obj] | None = None,
                      selector: Obj | None = None, **spec: Any) -> Obj:
    """A CompliancePolicy (cluster-scoped) applying `rules` to what `selector` selects (everything if absent)."""
    body: Obj = {"mode": mode, "rules": rules, **spec}
    if selector is not None:
        body["selector"] = dict(selector)
    if waivers is not None:
        body["waivers"] = waivers
    return _resource("CompliancePolicy", name, None, body, labels=None, annotations=None, uid=None, status=None)


def team(name: str, *, namespaces: list[str] | None = None, owners: list[Obj] | None = None,
         labels: dict[str, str] | None = None, status: Obj | None = None, **spec: Any) -> Obj:
    """A Team (cluster-scoped) owning `namespaces` (default: one named like the team), with one owner group."""
    body: Obj = {"displayName": name.title(), "contact": {"email": f"{name}@bank.example"},
                 "owners": owners or [{"kind": "Group", "name": f"{name}-owners"}],
                 "namespaces": [name] if namespaces is None else namespaces, **spec}
    return _resource("Team", name, None, body, labels=labels, annotations=None, uid=None, status=status)
