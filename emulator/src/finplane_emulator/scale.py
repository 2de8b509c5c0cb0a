"""The `/scale` subresource of Deployments, ReplicaSets and StatefulSets (autoscaling/v1 `Scale`).

Called by the HTTP layer for `.../deployments/NAME/scale` (`kubectl scale`, HPAs). Mirrors the
kube-apiserver's scale REST storage: GET answers a `Scale` built from the object (spec.replicas,
status.replicas, the selector as a string); PUT and PATCH (merge, strategic or JSON patch, all
applied to the `Scale`) change only `spec.replicas` of the object; a stale resourceVersion gets
409 Conflict. The discovery documents list `deployments/scale` and the others.
"""

from __future__ import annotations

from typing import Any

from finplane_emulator import jsoncodec, writes
from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError, bad_request, conflict, not_found
from finplane_emulator.patching import PatchError, json_merge_patch, json_patch
from finplane_emulator.resources import ResourceInfo

__all__ = ["SCALABLE", "get_scale", "patch_scale", "update_scale"]

SCALABLE = frozenset({("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets")})
Obj = dict[str, Any]


def _selector(obj: Obj) -> str:
    sel = (obj.get("spec") or {}).get("selector") or {}
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or ():
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(sorted(expr.get("values") or ()))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": f"{key}",
                      "DoesNotExist": f"!{key}"}.get(op, ""))
    return ",".join(p for p in parts if p)


def to_scale(obj: Obj) -> Obj:
    md = obj["metadata"]
    keep = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    status: Obj = {"replicas": int((obj.get("status") or {}).get("replicas") or 0)}
    if selector := _selector(obj):
        status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {k: md[k] for k in keep if k in md},
            "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))}, "status": status}


def _current(core: Core, info: ResourceInfo, namespace: str | None, name: str) -> Obj:
    obj = core.store.get(info, namespace or "", name)
    if obj is None:
        raise not_found(plural=info.plural, group=info.group, name=name)
    return obj


def get_scale(core: Core, info: ResourceInfo, namespace: str | None, name: str) -> Obj:
    return to_scale(_current(core, info, namespace, name))


def _set_replicas(core: Core, info: ResourceInfo, old: Obj, scale: Any, *, manager: str, dry_run: bool) -> Obj:
    if not isinstance(scale, dict):
        raise bad_request("the object provided is not a JSON object")
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv and rv != old["metadata"]["resourceVersion"]:
        raise conflict(plural=info.plural, group=info.group, name=old["metadata"]["name"])
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError(422, "Invalid", f'Scale.autoscaling "{old["metadata"]["name"]}" is invalid: spec.replicas: '
                       f"Invalid value: {replicas}: must be greater than or equal to 0",
                       details={"name": old["metadata"]["name"], "group": "autoscaling", "kind": "Scale"})
    new = {**old, "metadata": dict(old["metadata"]), "spec": {**(old.get("spec") or {}), "replicas": replicas}}
    stored = writes.replace(core, info, old, new, subresource="scale", manager=manager, dry_run=dry_run)
    return to_scale(stored)


def update_scale(core: Core, info: ResourceInfo, namespace: str | None, name: str, body: Any, *, manager: str,
                 dry_run: bool = False) -> Obj:
    return _set_replicas(core, info, _current(core, info, namespace, name), body, manager=manager, dry_run=dry_run)


def patch_scale(core: Core, info: ResourceInfo, namespace: str | None, name: str, raw: bytes, content_type: str, *,
                manager: str, dry_run: bool = False) -> Obj:
    old = _current(core, info, namespace, name)
    ctype = content_type.split(";")[0].strip().lower()
    try:
        body = jsoncodec.loads(raw or b"null")
    except ValueError as exc:
        raise bad_request(f"error decoding patch: {exc}") from None
    try:
        if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(body, dict):
                raise PatchError("json: cannot unmarshal into a merge patch: not an object")
            scale = json_merge_patch(to_scale(old), body)  # Scale has no merge keys: strategic == merge
        elif ctype == "application/json-patch+json":
            scale = json_patch(to_scale(old), body)
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                           f"accepted media types include: {', '.join(writes.PATCH_TYPES[:3])}")
    except PatchError as exc:
        raise ApiError(exc.code, {400: "BadRequest", 415: "UnsupportedMediaType"}.get(exc.code, "Invalid"),
                       exc.message) from None
    return _set_replicas(core, info, old, scale, manager=manager, dry_run=dry_run)
