"""CustomResourceDefinitions: turning CRD objects into served resources, and validating custom resources.

`writes.py` calls `before_write` on every write (CRDs get their status conditions; custom
resources are pruned, defaulted and validated against their version's structural schema with a
422 Invalid answer, as the apiextensions-apiserver does) and `after_write` after a commit (a CRD
starts or changes being served). `controllers.py` calls `unregister` when a CRD is deleted.
"""

from __future__ import annotations

from typing import Any

from finplane_emulator import schema as _schema  # the structural-schema engine is a separate pure module
from finplane_emulator.errors import ApiError, invalid
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.schema_builtin import validate_builtin

__all__ = ["after_write", "before_write", "infos_for", "is_crd", "register", "unregister"]

Obj = dict[str, Any]


def is_crd(info: ResourceInfo) -> bool:
    return info.group == "apiextensions.k8s.io" and info.plural == "customresourcedefinitions"


def infos_for(crd: Obj) -> list[ResourceInfo]:
    """One ResourceInfo per served version of a CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = spec.get("versions") or []
    storage = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"] if versions else "")
    out = []
    for version in versions:
        if not version.get("served", True):
            continue
        out.append(ResourceInfo(
            group=spec["group"], version=version["name"], plural=names["plural"], kind=names["kind"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            status="status" in (version.get("subresources") or {}), crd=True,
            singular=names.get("singular") or names["kind"].lower(),
            schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            storage_version=storage,
        ))
    return out


def _check_crd(crd: Obj) -> None:
    name = crd["metadata"].get("name", "")
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes: list[tuple[str, str, str]] = []
    for path, value in (("spec.group", spec.get("group")), ("spec.names.plural", names.get("plural")),
                        ("spec.names.kind", names.get("kind")), ("spec.scope", spec.get("scope"))):
        if not value:
            causes.append(("FieldValueRequired", path, "Required value"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(("FieldValueInvalid", "spec.versions", "Invalid value: null: must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(("FieldValueInvalid", "spec.versions", "Invalid value: must have exactly one version marked as storage version"))
    if spec.get("scope") not in (None, "Namespaced", "Cluster"):
        causes.append(("FieldValueNotSupported", "spec.scope", f'Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"'))
    if not causes and name != f"{names['plural']}.{spec['group']}":
        causes.append(("FieldValueInvalid", "metadata.name",
                       f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if causes:
        raise invalid(kind="CustomResourceDefinition", group="apiextensions.k8s.io", name=name, causes=causes)


def _condition(old: list[dict[str, Any]], type_: str, reason: str, message: str, now: str) -> dict[str, Any]:
    prior = next((c for c in old if c.get("type") == type_ and c.get("status") == "True"), None)
    return {"type": type_, "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": prior["lastTransitionTime"] if prior else now}


def _crd_status(crd: Obj, old: Obj | None) -> dict[str, Any]:
    from finplane_emulator.meta import now

    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    prior = (old or {}).get("status") or {}
    stored = list(prior.get("storedVersions") or [])
    for version in spec["versions"]:
        if version.get("storage") and version["name"] not in stored:
            stored.append(version["name"])
    t = now()
    conditions = prior.get("conditions") or []
    return {"acceptedNames": names, "storedVersions": stored, "conditions": [
        _condition(conditions, "NamesAccepted", "NoConflicts", "no conflicts found", t),
        _condition(conditions, "Established", "InitialNamesAccepted", "the initial names have been accepted", t),
    ]}


def before_write(core: Any, info: ResourceInfo, obj: Obj, old: Obj | None) -> None:
    """Validate and normalise an object about to be stored (mutates `obj`, a fresh dict)."""
    validate_builtin(info, obj)  # built-in kinds' OpenAPI schemas, annotation size, quota/limit rules
    if is_crd(info):
        _check_crd(obj)
        obj["status"] = _crd_status(obj, old)
        return
    if not info.crd or not info.schema:
        return
    cleaned = _schema.apply_defaults(info.schema, _schema.prune(info.schema, obj))
    obj.clear()
    obj.update(cleaned)
    errors = _schema.validate(info.schema, obj, old=old)
    if errors:
        body = _schema.invalid_status(kind=info.kind, group=info.group, name=obj["metadata"].get("name", ""),
                                      errors=errors)
        raise ApiError(422, "Invalid", body.get("message", "invalid"), body=body)


def register(core: Any, crd: Obj) -> None:
    core.registry.set_crd(crd["metadata"]["name"], infos_for(crd))


def unregister(core: Any, crd: Obj) -> None:
    core.registry.remove_crd(crd["metadata"]["name"])


def after_write(core: Any, info: ResourceInfo, obj: Obj) -> None:
    if is_crd(info) and not obj["metadata"].get("deletionTimestamp"):
        register(core, obj)
