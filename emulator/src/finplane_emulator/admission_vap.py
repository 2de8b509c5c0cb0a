"""ValidatingAdmissionPolicy: policies and their bindings evaluated with CEL on every create and update.

Called by `admission_chain.py` for each write a client makes. Mirrors kube-apiserver's
ValidatingAdmissionPolicy plugin: a binding (`spec.policyName`) applies its policy when the request
matches the policy's `matchConstraints` and the binding's `matchResources` (resourceRules with
operations, apiGroups, apiVersions, resources incl. `x/status`, `*`, `*/*`, resourceNames, scope;
excludeResourceRules; namespaceSelector against the namespace's labels; objectSelector against the new
or old object's labels) and every `matchConditions` expression is true. Params come from `paramKind`
and the binding's `paramRef` (name or selector, namespace, `parameterNotFoundAction`). Validations see
`object`, `oldObject`, `request`, `params`, `namespaceObject` and `variables`; a false one is reported
with `messageExpression`, `message` or `failed expression: ...`, and `reason` picks the code (Invalid
422 by default, Forbidden 403...). `validationActions`: Deny refuses, Warn adds a warning, Audit logs.
An expression that fails to compile or run follows `failurePolicy` (Fail by default).
Not evaluated: `auditAnnotations` (logged only), the `authorizer` variable, type checking at write time.
"""

from __future__ import annotations

import logging
from typing import Any

from celpy import celtypes

from finplane_emulator.authn import User
from finplane_emulator.cel import CelCompileError, compile_expression, to_cel
from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError, forbidden, invalid
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.selectors import label_selector_from_dict

__all__ = ["evaluate"]

Obj = dict[str, Any]
GROUP = "admissionregistration.k8s.io"
log = logging.getLogger("finplane_emulator.admission")
_CODES = {"Invalid": 422, "Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413}


class _Misconfigured(Exception):
    """A policy that cannot be applied as written: follows its failurePolicy."""


def _rule_matches(rule: Obj, info: ResourceInfo, operation: str, subresource: str, name: str) -> bool:
    def has(key: str, value: str) -> bool:
        values = rule.get(key) or []
        return "*" in values or value in values
    if not has("operations", operation) or not has("apiGroups", info.group) or not has("apiVersions", info.version):
        return False
    combined = f"{info.plural}/{subresource}" if subresource else info.plural
    resources = rule.get("resources") or []
    if not any(r == combined or r == "*/*" or (r == "*" and not subresource)
               or (subresource and r == f"*/{subresource}") or (r.endswith("/*") and combined.startswith(r[:-1]))
               for r in resources):
        return False
    names = rule.get("resourceNames") or []
    if names and name not in names:
        return False
    scope = str(rule.get("scope", "*"))
    return scope == "*" or scope == ("Namespaced" if info.namespaced else "Cluster")


def _selector_matches(sel: Any, labels: Any) -> bool:
    if sel is None:
        return True
    try:
        return bool(label_selector_from_dict(sel).matches(labels or {}))
    except ValueError as exc:
        raise _Misconfigured(f"invalid selector: {exc}") from None


def _matches(core: Core, match: Obj | None, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str,
             subresource: str) -> bool:
    if not match:
        return True
    name = obj["metadata"].get("name", "")
    rules = match.get("resourceRules")
    if rules is not None and not any(_rule_matches(r, info, operation, subresource, name) for r in rules):
        return False
    if any(_rule_matches(r, info, operation, subresource, name) for r in match.get("excludeResourceRules") or []):
        return False
    if info.namespaced:
        ns = core.namespace(obj["metadata"].get("namespace", "")) or {}
        ns_labels = (ns.get("metadata") or {}).get("labels")
    elif info.group == "" and info.plural == "namespaces":
        ns_labels = obj["metadata"].get("labels")
    else:
        ns_labels = None
    if ns_labels is not None and not _selector_matches(match.get("namespaceSelector"), ns_labels):
        return False
    sel = match.get("objectSelector")
    return _selector_matches(sel, obj["metadata"].get("labels")) or (
        old is not None and _selector_matches(sel, old["metadata"].get("labels")))


def _run(expression: str, activation: Obj) -> Any:
    try:
        program = compile_expression(expression)
    except CelCompileError as exc:
        raise _Misconfigured(f"compilation failed for expression '{expression}': {exc}") from None
    try:
        result = program.evaluate(activation)
    except Exception as exc:  # noqa: BLE001 - celpy raises its own errors and Python ones
        raise _Misconfigured(f"expression '{expression}' resulted in error: {exc}") from None
    if isinstance(result, Exception):
        raise _Misconfigured(f"expression '{expression}' resulted in error: {result}")
    return result


def _params(core: Core, policy: Obj, binding: Obj, namespace: str) -> list[Any] | None:
    """The param objects to evaluate with ([None] without paramKind); None: not found, and allowed."""
    kind = (policy.get("spec") or {}).get("paramKind")
    if not kind:
        return [None]
    ref = (binding.get("spec") or {}).get("paramRef")
    if not isinstance(ref, dict):
        raise _Misconfigured("paramKind is set but the binding has no paramRef")
    info = core.registry.by_kind(str(kind.get("apiVersion", "")), str(kind.get("kind", "")))
    if info is None:
        raise _Misconfigured(f"paramKind {kind} is not served")
    ns = (ref.get("namespace") or namespace) if info.namespaced else ""
    res = core.store.resources.get(info.key)
    if ref.get("name"):
        found = [o for o in [res.get(ns, ref["name"]) if res else None] if o is not None]
    else:
        sel = ref.get("selector")
        found = [o for o in (res.iter(ns if info.namespaced else "") if res else ())
                 if _selector_matches(sel if sel is not None else {}, o["metadata"].get("labels"))]
    if found:
        return found
    if ref.get("parameterNotFoundAction", "Deny") == "Allow":
        return None
    raise _Misconfigured("no params found for policy binding with `Deny` parameterNotFoundAction")


def _request(info: ResourceInfo, obj: Obj, operation: str, subresource: str, user: User) -> Obj:
    md = obj["metadata"]
    return {"kind": {"group": info.group, "version": info.version, "kind": info.kind},
            "resource": {"group": info.group, "version": info.version, "resource": info.plural},
            "subResource": subresource, "name": md.get("name", ""), "namespace": md.get("namespace", ""),
            "operation": operation, "userInfo": user.as_user_info(), "dryRun": False}


def evaluate(core: Core, *, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str, subresource: str,
             user: User) -> list[str]:
    """Warnings to send back; raises the refusal of the first binding that denies."""
    bindings = core.store.resources.get((GROUP, "validatingadmissionpolicybindings"))
    policies = core.store.resources.get((GROUP, "validatingadmissionpolicies"))
    if bindings is None or policies is None or not bindings.count:
        return []
    warnings: list[str] = []
    for binding in list(bindings.iter("")):
        spec = binding.get("spec") or {}
        policy = policies.get("", str(spec.get("policyName", "")))
        if policy is None:
            continue
        pspec = policy.get("spec") or {}
        failure = pspec.get("failurePolicy", "Fail")
        where = f"ValidatingAdmissionPolicy '{policy['metadata']['name']}' with binding '{binding['metadata']['name']}'"
        actions = spec.get("validationActions") or []
        try:
            if not _matches(core, pspec.get("matchConstraints"), info, obj, old, operation, subresource):
                continue
            if spec.get("matchResources") and not _matches(core, spec["matchResources"], info, obj, old,
                                                           operation, subresource):
                continue
            failures = _failures(core, policy, binding, info, obj, old, operation, subresource, user)
        except _Misconfigured as exc:
            if failure == "Ignore":
                continue
            failures = [(f"{exc}", "Invalid")]
        for message, reason in failures:
            text = f"{where} denied request: {message}"
            if "Warn" in actions:
                warnings.append(f"Validation failed for {where}: {message}")
            if "Audit" in actions:
                log.warning("audit: %s", text)
            if "Deny" in actions:
                raise _refusal(info, obj, text, reason)
    return warnings


def _refusal(info: ResourceInfo, obj: Obj, text: str, reason: str) -> ApiError:
    name = obj["metadata"].get("name", "")
    if reason == "Invalid" or reason not in _CODES:
        return invalid(kind=info.plural, group=info.group, name=name, causes=[("FieldValueInvalid", "", text)])
    if reason == "Forbidden":
        return forbidden(plural=info.plural, group=info.group, name=name, why=text)
    return ApiError(_CODES[reason], reason, text)


def _failures(core: Core, policy: Obj, binding: Obj, info: ResourceInfo, obj: Obj, old: Obj | None,
              operation: str, subresource: str, user: User) -> list[tuple[str, str]]:
    pspec = policy.get("spec") or {}
    namespace = obj["metadata"].get("namespace", "")
    params = _params(core, policy, binding, namespace)
    if params is None:
        return []
    ns_obj = core.namespace(namespace) if namespace else None
    base = {"object": to_cel(obj), "oldObject": to_cel(old), "request": to_cel(_request(info, obj, operation,
                                                                                         subresource, user)),
            "namespaceObject": to_cel(ns_obj)}
    out: list[tuple[str, str]] = []
    for param in params:
        activation = {**base, "params": to_cel(param)}
        variables: dict[Any, Any] = {}
        activation["variables"] = celtypes.MapType(variables)
        if not all(_truth(_run(str(c.get("expression", "")), activation)) for c in pspec.get("matchConditions") or []):
            continue
        for var in pspec.get("variables") or []:
            variables[celtypes.StringType(var.get("name", ""))] = _run(str(var.get("expression", "")), activation)
            activation["variables"] = celtypes.MapType(variables)
        for validation in pspec.get("validations") or []:
            expression = str(validation.get("expression", ""))
            if _truth(_run(expression, activation)):
                continue
            message = validation.get("message") or f"failed expression: {expression.strip()}"
            if validation.get("messageExpression"):
                try:
                    text = _run(str(validation["messageExpression"]), activation)
                    if isinstance(text, str) and text.strip():
                        message = str(text)
                except _Misconfigured:
                    pass  # the real server falls back to message too
            out.append((message, str(validation.get("reason") or "Invalid")))
    return out


def _truth(value: Any) -> bool:
    if not isinstance(value, bool | celtypes.BoolType):
        raise _Misconfigured(f"expression must evaluate to bool, got {type(value).__name__}")
    return bool(value)
