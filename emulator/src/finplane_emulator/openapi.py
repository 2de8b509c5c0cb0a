"""OpenAPI v3 documents (`/openapi/v3` and one per group/version), so kubectl validates and explains.

Served by `app.py`. `kubectl apply` first reads `/openapi/v3` to learn whether the server
supports the `fieldValidation` query parameter on PATCH for the kind it applies (then it lets
the server validate); without a document it refuses to apply unless `--validate=false`.
`kubectl explain` reads the kind's schema from `components.schemas`. Built-in schemas come
from the `kubernetes-validate` package (JSON Schema, converted back to OpenAPI 3.0); custom
resources' from their CRD. Documents are cached until the set of resources changes.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources as importlib_resources
from typing import Any

from aiohttp import web

from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError
from finplane_emulator.resources import ResourceInfo

__all__ = ["builtin_definitions", "group_version_doc", "serve"]

SCHEMA_VERSION = "v1.32.0-local"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_cache: dict[tuple[int, str, int], tuple[str, bytes]] = {}


def _convert(node: Any) -> Any:
    """JSON Schema 2020-12 (kubernetes-validate) -> OpenAPI 3.0 (what kube-openapi parses)."""
    if isinstance(node, list):
        return [_convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$schema", "$id"):
            continue
        if key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/$defs/", "#/components/schemas/")
        elif key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            out[key] = kinds[0] if kinds else "object"
        else:
            out[key] = _convert(value)
    if "oneOf" in out and all(set(b) <= {"type"} for b in out["oneOf"]):
        types = {b.get("type") for b in out.pop("oneOf")}
        out["type"] = "string"
        out["format"] = "int-or-string" if "integer" in types else "quantity"
        if "integer" in types:
            out["x-kubernetes-int-or-string"] = True
    return out


@functools.cache
def builtin_definitions() -> dict[str, Any]:
    base = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema" / SCHEMA_VERSION
    raw = json.loads((base / "_definitions.json").read_text())
    return {name: _convert(schema) for name, schema in raw["$defs"].items()}


def _closure(names: list[str], defs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in out or name not in defs:
            continue
        out[name] = defs[name]
        text = json.dumps(defs[name])
        for part in text.split('"#/components/schemas/')[1:]:
            todo.append(part.split('"', 1)[0])
    return out


def _builtin_schema_name(info: ResourceInfo, defs: dict[str, Any]) -> str | None:
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (info.group, info.version, info.kind):
                return name
    return None


def _crd_schema_name(info: ResourceInfo) -> str:
    return ".".join(reversed(info.group.split("."))) + f".{info.version}.{info.kind}"


def _crd_schema(info: ResourceInfo) -> dict[str, Any]:
    schema = json.loads(json.dumps(info.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}))
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}
    props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}
    props["metadata"] = {"$ref": f"#/components/schemas/{_OBJECT_META}", "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [{"group": info.group, "version": info.version, "kind": info.kind}]
    return schema


def _params(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in names]


def _op(info: ResourceInfo, action: str, ref: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {"operationId": f"{action}{info.kind}", "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {"group": info.group, "version": info.version, "kind": info.kind},
            "parameters": params,
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}}}


def _paths(info: ResourceInfo, ref: str) -> dict[str, Any]:
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    collection = f"{prefix}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{prefix}/{info.plural}"
    writes = _params("dryRun", "fieldManager", "fieldValidation")
    paths = {
        collection: {"get": _op(info, "list", ref, _params("labelSelector", "fieldSelector", "limit", "continue",
                                                            "watch", "resourceVersion")),
                     "post": _op(info, "post", ref, writes)},
        f"{collection}/{{name}}": {"get": _op(info, "get", ref, []), "put": _op(info, "put", ref, writes),
                                   "patch": _op(info, "patch", ref, [*writes, *_params("force")]),
                                   "delete": _op(info, "delete", ref, _params("dryRun", "propagationPolicy"))},
    }
    if info.status:
        paths[f"{collection}/{{name}}/status"] = {"get": _op(info, "get", ref, []),
                                                  "put": _op(info, "put", ref, writes),
                                                  "patch": _op(info, "patch", ref, [*writes, *_params("force")])}
    return paths


def group_version_doc(core: Core, group: str, version: str) -> dict[str, Any] | None:
    infos = core.registry.in_group_version(group, version)
    if not infos:
        return None
    defs = builtin_definitions()
    roots: list[str] = [_OBJECT_META]
    extra: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for info in infos:
        name = _crd_schema_name(info) if info.crd else _builtin_schema_name(info, defs)
        if name is None:
            name = _crd_schema_name(info)
            extra[name] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                           "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": info.kind}]}
        elif info.crd:
            extra[name] = _crd_schema(info)
        roots.append(name)
        paths.update(_paths(info, f"#/components/schemas/{name}"))
    schemas = _closure(roots, {**defs, **extra})
    schemas.update(extra)
    gv = f"{group}/{version}" if group else version
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (finplane embedded API server)", "version": gv},
            "paths": paths, "components": {"schemas": schemas}}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _cached(core: Core, group: str, version: str) -> tuple[str, bytes] | None:
    key = (id(core.registry), _gv_path(group, version), core.registry.generation)
    if key not in _cache:
        doc = group_version_doc(core, group, version)
        if doc is None:
            return None
        body = json.dumps(doc, separators=(",", ":")).encode()
        _cache[key] = (hashlib.sha512(body).hexdigest()[:32].upper(), body)
    return _cache[key]


# /openapi/v2 as kubectl 1.27-1.29 read it: a gnostic `openapi_v2.Document` in protobuf, here with
# only `swagger: "2.0"` (field 1) and no definitions. kubectl then takes patch strategies from its
# compiled-in types for built-in kinds and uses JSON merge patch for custom resources, which is
# what it does against a real server for kinds the document lacks. `explain` uses /openapi/v3.
_V2_EMPTY = b"\x0a\x03" + b"2.0"


def serve(request: web.Request, core: Core, parts: list[str]) -> web.Response:
    if parts == ["openapi", "v2"]:
        if "protobuf" in request.headers.get("Accept", ""):
            return web.Response(body=_V2_EMPTY, content_type="application/octet-stream")  # as kube-openapi answers
        return web.Response(body=json.dumps({"swagger": "2.0", "info": {
            "title": "Kubernetes (finplane embedded API server)", "version": "v2"}, "paths": {},
            "definitions": {}}).encode(), content_type="application/json")
    if parts[:2] != ["openapi", "v3"]:
        raise ApiError(404, "NotFound", "only /openapi/v2 (without definitions) and /openapi/v3 are served")
    if len(parts) == 2:
        index = {}
        for group, versions in core.registry.groups().items():
            for version in versions:
                cached = _cached(core, group, version)
                if cached:
                    index[_gv_path(group, version)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}?hash={cached[0]}"}
        return web.Response(body=json.dumps({"paths": index}).encode(), content_type="application/json")
    rest = parts[2:]
    if rest[0] == "api" and len(rest) == 2:
        cached = _cached(core, "", rest[1])
    elif rest[0] == "apis" and len(rest) == 3:
        cached = _cached(core, rest[1], rest[2])
    else:
        cached = None
    if cached is None:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return web.Response(body=cached[1], content_type="application/json",
                        headers={"Etag": f'"{cached[0]}"', "Cache-Control": "no-cache, private"})
