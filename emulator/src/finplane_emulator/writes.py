"""Create, update (PUT), patch and server-side apply: the write path of the embedded API server.

Called by the HTTP layer (`http.py`) and by the built-in controllers. Mirrors the kube-apiserver's
generic registry: system metadata is owned by the server, `resourceVersion` preconditions give
409 Conflict, `generation` moves on spec changes only, `/status` and the main resource each keep
the other's part, a no-op write changes nothing (no new resourceVersion, no watch event), and the
last finalizer removed from a deleting object deletes it.
"""

from __future__ import annotations

from typing import Any

import yaml

from finplane_emulator import crds, jsoncodec, meta
from finplane_emulator import ssa as _ssa  # the server-side apply engine is a separate pure module
from finplane_emulator.core import Core
from finplane_emulator.errors import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
)
from finplane_emulator.labels import validate_labels
from finplane_emulator.patching import PatchError, json_merge_patch, json_patch, strategic_merge_patch
from finplane_emulator.resources import ResourceInfo

__all__ = ["apply", "create", "patch", "replace", "update"]

Obj = dict[str, Any]
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")
PATCH_TYPES = ("application/merge-patch+json", "application/json-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def _check_type(info: ResourceInfo, body: Any) -> Obj:
    if not isinstance(body, dict):
        raise bad_request("the object provided is not a JSON object")
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if kind and kind != info.kind:
        raise bad_request(f"the object provided is unrecognized (must be of type {info.kind}): "
                          f"expected kind {info.kind}, got {kind}")
    if api_version and api_version != info.api_version and api_version.split("/")[0] != (info.group or "v1"):
        raise bad_request(f"the API version in the data ({api_version}) does not match the expected "
                          f"API version ({info.api_version})")
    body["apiVersion"], body["kind"] = info.api_version, info.kind
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad_request("metadata must be an object")
    body["metadata"] = dict(metadata or {})
    return body


def _record(info: ResourceInfo, old: Obj | None, new: Obj, *, manager: str, operation: str,
            subresource: str = "") -> Obj:
    if not manager:
        return new
    return _ssa.record_update(old, new, manager=manager, operation=operation, now=meta.now(),
                              subresource=subresource, group=info.group, kind=info.kind, schema=info.schema)


def _check_namespace(core: Core, info: ResourceInfo, namespace: str, name: str) -> None:
    ns = core.namespace(namespace)
    if ns is None:
        raise not_found(plural="namespaces", group="", name=namespace)
    if ns["metadata"].get("deletionTimestamp"):
        raise forbidden(plural=info.plural, group=info.group, name=name,
                        why=f"unable to create new content in namespace {namespace} because it is being terminated")


def create(core: Core, info: ResourceInfo, namespace: str | None, body: Any, *, manager: str,
           dry_run: bool = False, managed: bool = False) -> Obj:
    """POST: a new object with server-owned metadata; 409 AlreadyExists, 404 for a missing namespace."""
    obj = _check_type(info, body)
    md = obj["metadata"]
    if info.namespaced:
        if md.get("namespace") and namespace and md["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        namespace = namespace or md.get("namespace") or "default"
        md["namespace"] = namespace
    else:
        md.pop("namespace", None)
    store = core.store
    if not md.get("name"):
        prefix = md.get("generateName")
        if not prefix:
            raise invalid(kind=info.kind, group=info.group, name="", causes=[
                ("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")])
        for _ in range(8):
            md["name"] = meta.generate_name(prefix)
            if store.get(info, md.get("namespace", ""), md["name"]) is None:
                break
    name = md["name"]
    meta.validate_name(info, name)
    validate_labels(info, name, md)
    if info.namespaced:
        _check_namespace(core, info, namespace or "", name)
    if store.get(info, md.get("namespace", ""), name) is not None:
        raise already_exists(plural=info.plural, group=info.group, name=name)
    for key in (*_SYSTEM_FIELDS, "resourceVersion", "selfLink"):
        md.pop(key, None)
    md["uid"] = meta.new_uid()
    md["creationTimestamp"] = meta.now()
    if meta.tracks_generation(info):
        md["generation"] = 1
    if info.status:
        obj.pop("status", None)  # create cannot set status when it is a subresource
    core.admission.mutate(info, obj, None, "CREATE")
    meta.on_create(info, obj)
    crds.before_write(core, info, obj, None)
    core.admission.validate(info, obj, None, "CREATE", "")
    if not managed:
        obj = _record(info, None, obj, manager=manager, operation="Update")
    if dry_run:
        return obj
    store.commit(info, obj, old=None)
    crds.after_write(core, info, obj)
    return obj


def update(core: Core, info: ResourceInfo, namespace: str | None, name: str, body: Any, *, subresource: str,
           manager: str, dry_run: bool = False) -> Obj:
    """PUT: replace an object; a stale resourceVersion gets 409 Conflict."""
    obj = _check_type(info, body)
    old = core.store.get(info, namespace or "", name)
    if old is None:
        raise not_found(plural=info.plural, group=info.group, name=name)
    if obj["metadata"].get("name") not in (None, name):
        raise bad_request(f"the name of the object ({obj['metadata']['name']}) does not match the name on the URL ({name})")
    rv = obj["metadata"].get("resourceVersion")
    if rv and rv != old["metadata"]["resourceVersion"]:
        raise conflict(plural=info.plural, group=info.group, name=name)
    return replace(core, info, old, obj, subresource=subresource, manager=manager, dry_run=dry_run)


def replace(core: Core, info: ResourceInfo, old: Obj, new: Obj, *, subresource: str, manager: str,
            operation: str = "Update", dry_run: bool = False, managed: bool = False) -> Obj:
    """Store `new` in place of `old`, keeping what the server owns; no-op writes return `old` untouched."""
    om = old["metadata"]
    if subresource == "status":
        status = new.get("status")
        result = {**old, "metadata": {**om, "managedFields": new["metadata"].get("managedFields",
                                                                               om.get("managedFields"))}}
        if status is None:
            result.pop("status", None)
        else:
            result["status"] = status
        new = result
        crds.before_write(core, info, new, old)
    else:
        md = new["metadata"] = dict(new.get("metadata") or {})
        for key in (*_SYSTEM_FIELDS, "name", "namespace"):
            if key in om:
                md[key] = om[key]
            else:
                md.pop(key, None)
        if "managedFields" not in md and "managedFields" in om:
            md["managedFields"] = om["managedFields"]
        if info.status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if om.get("deletionTimestamp"):
            added = set(md.get("finalizers") or ()) - set(om.get("finalizers") or ())
            if added:
                raise invalid(kind=info.kind, group=info.group, name=om["name"], causes=[
                    ("FieldValueForbidden", "metadata.finalizers",
                     f"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {sorted(added)!r}")])
        validate_labels(info, om["name"], md)
        meta.on_write(info, new)
        crds.before_write(core, info, new, old)
        if meta.tracks_generation(info) and meta.spec_changed(info, old, new):
            md["generation"] = int(om.get("generation") or 1) + 1
    core.admission.validate(info, new, old, "UPDATE", subresource)
    if _same(old, new):
        return old
    if not managed:
        new = _record(info, old, new, manager=manager, operation=operation, subresource=subresource)
    if dry_run:
        return new
    md = new["metadata"]
    if (md.get("deletionTimestamp") and not md.get("finalizers") and not md.get("deletionGracePeriodSeconds")
            and not _is_namespace(info)):  # a Pod in its grace period stays until the kubelet deletes it
        return core.store.remove(info, new)  # the last finalizer is gone: delete for good
    core.store.commit(info, new, old=old)
    crds.after_write(core, info, new)
    core.hooks.after_update(info, new)
    return new


def _is_namespace(info: ResourceInfo) -> bool:
    return info.group == "" and info.plural == "namespaces"


def _same(old: Obj, new: Obj) -> bool:
    """Equal apart from resourceVersion and field ownership bookkeeping: nothing to write."""
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        if key != "metadata" and old[key] != value:
            return False
    om, nm = old["metadata"], new["metadata"]
    ignore = {"resourceVersion", "managedFields"}
    return {k: v for k, v in om.items() if k not in ignore} == {k: v for k, v in nm.items() if k not in ignore}


def patch(core: Core, info: ResourceInfo, namespace: str | None, name: str, raw: bytes, content_type: str, *,
          subresource: str, manager: str, force: bool = False, dry_run: bool = False) -> tuple[Obj, bool]:
    """PATCH in its four flavours; returns (object, created)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/apply-patch+yaml":
        return apply(core, info, namespace, name, raw, subresource=subresource, manager=manager,
                     force=force, dry_run=dry_run)
    if ctype not in PATCH_TYPES:
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                       f"accepted media types include: {', '.join(PATCH_TYPES)}")
    old = core.store.get(info, namespace or "", name)
    if old is None:
        raise not_found(plural=info.plural, group=info.group, name=name)
    try:
        body = jsoncodec.loads(raw or b"null")
    except ValueError as exc:
        raise bad_request(f"error decoding patch: {exc}") from None
    try:
        if ctype == "application/merge-patch+json":
            if not isinstance(body, dict):
                raise PatchError("json: cannot unmarshal into a merge patch: not an object")
            new = json_merge_patch(old, body)
        elif ctype == "application/json-patch+json":
            new = json_patch(old, body)
        else:
            new = strategic_merge_patch(old, body, group=info.group, kind=info.kind, builtin=not info.crd)
    except PatchError as exc:
        reason = {400: "BadRequest", 415: "UnsupportedMediaType"}.get(exc.code, "Invalid")
        raise ApiError(exc.code, reason, exc.message) from None
    if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
        raise ApiError(422, "Invalid", "the patch produced something that is not an object")
    rv = (new.get("metadata") or {}).get("resourceVersion")
    if rv and rv != old["metadata"]["resourceVersion"]:
        raise conflict(plural=info.plural, group=info.group, name=name)
    new = _check_type(info, new)
    return replace(core, info, old, new, subresource=subresource, manager=manager, dry_run=dry_run), False


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_apply_body(raw: bytes) -> Any:
    """The apply body: JSON (a subset of YAML, and what clients send) through the JSON codec, else YAML.

    The kube-apiserver turns the YAML into JSON before decoding it (sigs.k8s.io/yaml), so a JSON
    body means exactly its JSON. Pure-Python YAML parsing cost ~5 ms per Deployment, ~90 % of an
    apply; libyaml's loader (same constructors as `safe_load`) is used for real YAML.
    """
    if raw[:1] == b"{" or raw.lstrip()[:1] == b"{":
        try:
            return jsoncodec.loads(raw)
        except ValueError:
            pass  # flow-style YAML that is not JSON: let the YAML parser decide
    try:
        return yaml.load(raw or b"", Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise bad_request(f"error decoding YAML: {exc}") from None


def apply(core: Core, info: ResourceInfo, namespace: str | None, name: str, raw: bytes, *, subresource: str,
          manager: str, force: bool, dry_run: bool = False) -> tuple[Obj, bool]:
    """Server-side apply: creates when absent; 409 on a conflict with another manager unless forced."""
    if not manager:
        raise invalid(kind="PatchOptions", group="meta.k8s.io", name="", causes=[
            ("FieldValueRequired", "fieldManager", "Required value: is required for apply patch")])
    applied = _load_apply_body(raw)
    applied = _check_type(info, applied)
    if applied["metadata"].get("name") not in (None, name):
        raise bad_request(f"the name of the object ({applied['metadata']['name']}) does not match the name on the URL ({name})")
    applied["metadata"]["name"] = name
    if info.namespaced and namespace:
        applied["metadata"].setdefault("namespace", namespace)
    old = core.store.get(info, namespace or "", name)
    if old is None and subresource:
        raise not_found(plural=info.plural, group=info.group, name=name)
    rv = applied["metadata"].get("resourceVersion")
    if rv and (old is None or rv != old["metadata"]["resourceVersion"]):
        raise conflict(plural=info.plural, group=info.group, name=name)
    try:
        new = _ssa.apply(old, applied, manager=manager, force=force, group=info.group, kind=info.kind,
                         now=meta.now(), schema=info.schema, subresource=subresource)
    except _ssa.ApplyConflict as exc:
        causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{mgr}"', "field": path}
                  for path, mgr in exc.conflicts]
        raise ApiError(409, "Conflict", exc.message,
                       details={"causes": causes, "name": name, "kind": info.plural,
                                **({"group": info.group} if info.group else {})}) from None
    if old is None:
        return create(core, info, namespace, new, manager=manager, dry_run=dry_run, managed=True), True
    new = _check_type(info, new)
    return replace(core, info, old, new, subresource=subresource, manager=manager, operation="Apply",
                   dry_run=dry_run, managed=True), False
