"""Native enforcement: ValidatingAdmissionPolicy + binding (CEL) and Pod Security Admission labels.

Pure renderers, called by the compliance reconciler for policies in enforce mode. Admission can
check what is visible in one Pod or Deployment: images, security contexts, limits, labels; the
other rules (network, classification, sandboxes) are enforced by the operator's refusal instead.
Active waivers become CEL exemptions (by namespace and the finplane.io/capability label), so a
waived capability's own Deployment is not refused at admission; an expired waiver is dropped at
the next render (the reconciler wakes at each expiry).
"""

from __future__ import annotations

from datetime import datetime

from finplane.models.compliance_policy import CompliancePolicySpec, Waiver
from finplane.policy.selection import selected_kinds
from finplane.policy.subject import Obj

__all__ = ["ADMISSION_RULES", "PSA_LABELS", "psa_labels", "render_admission_policy"]

PSA_LABELS = {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "audit", "warn")} | \
    {f"pod-security.kubernetes.io/{m}-version": "latest" for m in ("enforce", "audit", "warn")}

_C = "variables.containers.all(c, {})"


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sc(field: str) -> str:
    return f"has(c.securityContext) && has(c.securityContext.{field})"


def _registries(p: dict[str, object]) -> str:
    regs = [str(r).rstrip("/") for r in p.get("registries") or []]  # type: ignore[attr-defined]
    return _C.format(f"[{', '.join(_q(r) for r in regs)}].exists(r, c.image.startsWith(r + '/'))")


def _limits(p: dict[str, object]) -> str:
    res = [str(r) for r in p.get("resources") or ["cpu", "memory"]]  # type: ignore[attr-defined]
    return _C.format("has(c.resources) && has(c.resources.limits) && "
                     + " && ".join(f"{_q(r)} in c.resources.limits" for r in res))


def _labels(p: dict[str, object]) -> str:
    labels = [str(x) for x in p.get("labels") or ["finplane.io/team"]]  # type: ignore[attr-defined]
    return "has(object.metadata.labels) && " + " && ".join(f"{_q(x)} in object.metadata.labels" for x in labels)


#: rule id -> (CEL builder from parameters, message)
ADMISSION_RULES = {
    "allowed-registries": (_registries, "images must come from an allowed registry"),
    "image-digest-pinned": (lambda p: _C.format("c.image.contains('@sha256:')"), "images must be pinned by digest"),
    "no-latest-tag": (lambda p: _C.format("c.image.contains('@sha256:') || "
                                          "(c.image.matches(':[^/:]+$') && !c.image.endsWith(':latest'))"),
                      "images must not use the latest tag"),
    "run-as-non-root": (lambda p: _C.format(
        f"!({_sc('runAsUser')} && c.securityContext.runAsUser == 0) && "
        f"(({_sc('runAsNonRoot')}) ? c.securityContext.runAsNonRoot == true : "
        "(has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.runAsNonRoot) && "
        "variables.podSpec.securityContext.runAsNonRoot == true))"), "containers must run as non-root"),
    "no-privilege-escalation": (lambda p: _C.format(
        f"{_sc('allowPrivilegeEscalation')} && c.securityContext.allowPrivilegeEscalation == false && "
        "!(has(c.securityContext.privileged) && c.securityContext.privileged == true)"),
        "containers must set allowPrivilegeEscalation: false"),
    "read-only-root-filesystem": (lambda p: _C.format(
        f"{_sc('readOnlyRootFilesystem')} && c.securityContext.readOnlyRootFilesystem == true"),
        "containers must set readOnlyRootFilesystem: true"),
    "resource-limits-set": (_limits, "containers must have resource limits"),
    "owner-labels-present": (_labels, "objects must carry the owner labels"),
}


def _exemption(waivers: list[Waiver], rule_id: str, now: datetime) -> str | None:
    terms = []
    for w in waivers:
        if str(w.rule_id) != rule_id or not w.active(now=now):
            continue
        for ref in w.objects:
            if str(ref.kind) not in ("BusinessCapability", "Deployment", "Pod"):
                continue
            parts = [f"request.namespace == {_q(ref.namespace)}"] if ref.namespace else []
            if ref.name:
                label = "'finplane.io/capability'"
                parts.append(f"(has(object.metadata.labels) && {label} in object.metadata.labels && "
                             f"object.metadata.labels[{label}] == {_q(ref.name)})"
                             if str(ref.kind) == "BusinessCapability" else f"object.metadata.name == {_q(ref.name)}")
            terms.append("(" + (" && ".join(parts) or "true") + ")")
    return " || ".join(terms) if terms else None


def render_admission_policy(name: str, spec: CompliancePolicySpec, *, now: datetime) -> list[Obj]:
    """A ValidatingAdmissionPolicy and its Deny binding for the admission-checkable rules; [] if none."""
    validations = []
    for rule in spec.rules:
        rid = str(rule.id)
        if not rule.enabled or rid not in ADMISSION_RULES:
            continue
        build, message = ADMISSION_RULES[rid]
        expr = build(dict(rule.parameters))
        exempt = _exemption(spec.waivers, rid, now)
        validations.append({"expression": f"({exempt}) || ({expr})" if exempt else expr,
                            "message": f"finplane policy {name}, rule {rid}: {message}",
                            "reason": "Forbidden"})
    if not validations:
        return []
    kinds = selected_kinds(spec.selector)
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE", "UPDATE"]}]
    if "Deployment" in kinds or "BusinessCapability" in kinds:
        rules.append({"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"],
                      "operations": ["CREATE", "UPDATE"]})
    match: Obj = {"resourceRules": rules}
    if spec.selector.namespaces:
        match["namespaceSelector"] = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                           "values": sorted(spec.selector.namespaces)}]}
    elif spec.selector.namespace_selector is not None:
        match["namespaceSelector"] = spec.selector.namespace_selector.model_dump(by_alias=True, exclude_none=True)
    vap_name = f"finplane-{name}"
    labels = {"app.kubernetes.io/managed-by": "finplane", "finplane.io/policy": name}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": vap_name, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": match,
            "variables": [
                {"name": "podSpec", "expression": "object.kind == 'Pod' ? object.spec : object.spec.template.spec"},
                {"name": "containers", "expression": "variables.podSpec.containers + "
                 "(has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : [])"},
            ],
            "validations": validations,
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": vap_name, "labels": labels},
        "spec": {"policyName": vap_name, "validationActions": ["Deny"]},
    }
    return [policy, binding]


def psa_labels(spec: CompliancePolicySpec) -> dict[str, str]:
    """Pod Security Admission labels for the selected namespaces: restricted when enforcing pod security rules."""
    pod_rules = {"run-as-non-root", "no-privilege-escalation"}
    if str(spec.mode) != "enforce" or not any(r.enabled and str(r.id) in pod_rules for r in spec.rules):
        return {}
    return dict(PSA_LABELS)
