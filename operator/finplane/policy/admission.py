"""Native enforcement: ValidatingAdmissionPolicy + binding (CEL) and Pod Security Admission labels.

Pure renderers, called by the compliance reconciler for policies in enforce mode. Admission can
check what is visible in one Pod or Deployment: images, security contexts, limits, labels; the
other rules (network, classification, sandboxes) are enforced by the operator's refusal instead.
Active waivers become CEL exemptions (by namespace and the finplane.io/capability label), so a
waived capability's own Deployment is not refused at admission; an expired waiver is dropped at
the next render (the reconciler wakes at each expiry).

Reach is bounded so that an enforce-mode policy cannot take the cluster down: the binding's
namespace selector always excludes the protected namespaces (`kube-system`, `kube-public`,
`kube-node-lease` and Finplane's own namespace, passed in by the reconciler from the settings),
even when the policy selects no namespaces at all; the policy's label selector and data
classifications become an object selector (matched against the Pod's or Deployment's own labels,
which Finplane's renderers set from the capability); and the failure policy is a setting
(`Fail` by default: an admission check that cannot run refuses, inside the policy's reach only).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from finplane.models.compliance_policy import CompliancePolicySpec, Waiver
from finplane.policy.selection import selected_kinds
from finplane.policy.subject import Obj
from finplane.settings import Settings

__all__ = ["ADMISSION_RULES", "PROTECTED_NAMESPACES", "PSA_LABELS", "admission_options", "admission_reach", "outside_protected", "protected_namespaces",
           "psa_labels",
           "render_admission_policy"]

#: Namespaces no enforced admission policy ever covers, whatever its selector says.
PROTECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
CLASSIFICATION_LABEL = "finplane.io/data-classification"
FailurePolicy = Literal["Fail", "Ignore"]

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


def admission_reach(spec: CompliancePolicySpec, *, protected: Iterable[str] = PROTECTED_NAMESPACES) -> Obj:
    """The namespace and object selectors that bound an enforced policy (`matchConstraints` keys).

    The protected namespaces are excluded in every case; the policy's own namespace list, namespace
    selector, label selector and data classifications narrow it further, never widen it.
    """
    sel = spec.selector
    excluded = sorted(set(protected) | set(PROTECTED_NAMESPACES))
    ns_exprs: list[Obj] = [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded}]
    ns_selector: Obj = {}
    if sel.namespaces:
        ns_exprs.append({"key": "kubernetes.io/metadata.name", "operator": "In",
                         "values": sorted(set(sel.namespaces) - set(excluded))})
    if sel.namespace_selector is not None:
        given = sel.namespace_selector.model_dump(by_alias=True, exclude_none=True)
        ns_exprs.extend(given.get("matchExpressions") or [])
        if given.get("matchLabels"):
            ns_selector["matchLabels"] = dict(given["matchLabels"])
    ns_selector["matchExpressions"] = ns_exprs
    reach: Obj = {"namespaceSelector": ns_selector}
    obj_selector: Obj = {}
    if sel.label_selector is not None:
        given = sel.label_selector.model_dump(by_alias=True, exclude_none=True)
        if given.get("matchLabels"):
            obj_selector["matchLabels"] = dict(given["matchLabels"])
        if given.get("matchExpressions"):
            obj_selector["matchExpressions"] = list(given["matchExpressions"])
    if sel.data_classifications:
        obj_selector.setdefault("matchExpressions", []).append(
            {"key": CLASSIFICATION_LABEL, "operator": "In", "values": sorted(str(c) for c in sel.data_classifications)})
    if obj_selector:
        reach["objectSelector"] = obj_selector
    return reach


def render_admission_policy(name: str, spec: CompliancePolicySpec, *, now: datetime,
                            protected_namespaces: Iterable[str] = PROTECTED_NAMESPACES,
                            failure_policy: FailurePolicy = "Fail") -> list[Obj]:
    """A ValidatingAdmissionPolicy and its Deny binding for the admission-checkable rules; [] if none.

    `protected_namespaces` (added to PROTECTED_NAMESPACES; the reconciler passes Finplane's own) are never
    covered; `failure_policy` is the settings' `admission_failure_policy`.
    """
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
    protected = set(protected_namespaces) | set(PROTECTED_NAMESPACES)
    if spec.selector.namespaces and not set(spec.selector.namespaces) - protected:
        return []  # it selects only protected namespaces: admission never reaches them
    kinds = selected_kinds(spec.selector)
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE", "UPDATE"]}]
    if "Deployment" in kinds or "BusinessCapability" in kinds:
        rules.append({"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"],
                      "operations": ["CREATE", "UPDATE"]})
    match: Obj = {"resourceRules": rules, **admission_reach(spec, protected=protected_namespaces)}
    vap_name = f"finplane-{name}"
    labels = {"app.kubernetes.io/managed-by": "finplane", "finplane.io/policy": name}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": vap_name, "labels": labels},
        "spec": {
            "failurePolicy": failure_policy,
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


def protected_namespaces(settings: Settings) -> tuple[str, ...]:
    """Every namespace enforce mode never touches: the kube-* ones, Finplane's own and the configured extras."""
    own = [settings.pod_namespace] if settings.pod_namespace else []
    return tuple(sorted({*PROTECTED_NAMESPACES, *own, *settings.admission_protected_namespaces}))


def admission_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `render_admission_policy` that come from the operator's settings."""
    return {"protected_namespaces": protected_namespaces(settings), "failure_policy": settings.admission_failure_policy}


def outside_protected(namespaces: Iterable[str], protected: Iterable[str]) -> list[str]:
    """The namespaces enforce mode may label for Pod Security Admission: never a protected one."""
    return sorted(set(namespaces) - set(protected) - set(PROTECTED_NAMESPACES))


def psa_labels(spec: CompliancePolicySpec) -> dict[str, str]:
    """Pod Security Admission labels for the selected namespaces: restricted when enforcing pod security rules."""
    pod_rules = {"run-as-non-root", "no-privilege-escalation"}
    if str(spec.mode) != "enforce" or not any(r.enabled and str(r.id) in pod_rules for r in spec.rules):
        return {}
    return dict(PSA_LABELS)
