"""What a rule looks at: the subject object, its pod specs and its surroundings, and what a rule says.

Pure data. The engine (`policy.engine`) builds one `Subject` per selected object; the reconciler
and the preview fill the `Context` from their caches (channels, capabilities, live objects in
the subject's namespace) so that rules never do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Context", "Finding", "Obj", "Subject", "pod_specs"]

Obj = dict[str, Any]
Outcome = Literal["pass", "fail", "skip", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict on one subject. `result` is pass, fail or error (skip is the engine's, for waivers)."""

    result: Outcome
    message: str


@dataclass
class Context:
    """Objects around the subjects, gathered by the caller.

    `capabilities` and `channels` are the Finplane objects by (namespace, name); `related` holds live
    Kubernetes objects (NetworkPolicies, ResourceQuotas) by namespace; `namespace_labels` the labels of
    each namespace (for namespace selectors).
    """

    capabilities: dict[tuple[str, str], Obj] = field(default_factory=dict)
    channels: dict[tuple[str, str], Obj] = field(default_factory=dict)
    related: dict[str, list[Obj]] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    sandbox_namespace_prefix: str = "sbx-"


@dataclass
class Subject:
    """One evaluated object with what rules need: its body, owner team and rendered children."""

    kind: str
    body: Obj
    children: list[Obj] = field(default_factory=list)  # rendered children (capabilities) or []

    @property
    def namespace(self) -> str:
        return self.body.get("metadata", {}).get("namespace") or ""

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", ""))

    @property
    def spec(self) -> Obj:
        return self.body.get("spec") or {}

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.body.get("metadata", {}).get("labels") or {})

    @property
    def team(self) -> str:
        """The owning team (capabilities), partner (sandboxes) or the team label, else ''."""
        if self.kind == "BusinessCapability":
            return str((self.spec.get("owner") or {}).get("team", ""))
        if self.kind == "TenantSandbox":
            return str((self.spec.get("partner") or {}).get("name", ""))
        return self.labels.get("finplane.io/team", "")

    @property
    def classification(self) -> str | None:
        if self.kind == "BusinessCapability":
            return str(self.spec.get("dataClassification") or "internal")
        return self.labels.get("finplane.io/data-classification")

    @property
    def sandbox_namespace(self) -> str:
        status_ns = (self.body.get("status") or {}).get("namespace")
        return str(status_ns) if status_ns else ""

    def ref(self) -> Obj:
        """The subject as a PolicyReport `resources` entry (an ObjectReference)."""
        meta = self.body.get("metadata", {})
        out: Obj = {"apiVersion": self.body.get("apiVersion", ""), "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        if meta.get("uid"):
            out["uid"] = meta["uid"]
        return out


def pod_specs(subject: Subject) -> list[tuple[str, Obj]]:
    """(where, pod spec) pairs: the rendered Deployment of a capability, a Deployment's template, a Pod's spec."""
    if subject.kind == "Pod":
        return [("pod", subject.spec)]
    if subject.kind == "Deployment":
        return [("deployment", ((subject.spec.get("template") or {}).get("spec")) or {})]
    return [(f"{c['kind']}/{c['metadata']['name']}", c["spec"]["template"]["spec"])
            for c in subject.children if c.get("kind") == "Deployment"]
