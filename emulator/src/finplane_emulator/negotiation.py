"""Content negotiation of responses: plain objects, `Table`s and `PartialObjectMetadata`, or 406.

Called by the HTTP layer (`http._renderer`) with the request's Accept header. Mirrors
k8s.io/apiserver's endpoints/handlers/negotiation and `transformObject`: the Accept header is a
list of media types tried in order; `application/json;as=Table;g=meta.k8s.io;v=v1` asks for
server-side printing, `as=PartialObjectMetadata` (one object or watch events) and
`as=PartialObjectMetadataList` (lists) for the objects' metadata only (what client-go's metadata
client and `kubectl get` with `--output=name` use); a media type whose `as=` the server does not
know is skipped, and when none is left the answer is 406 NotAcceptable. A single-object request
for `PartialObjectMetadataList` or a list request for `PartialObjectMetadata` is 406 too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from finplane_emulator import reads, tables
from finplane_emulator.errors import ApiError
from finplane_emulator.resources import ResourceInfo

__all__ = ["Renderer", "not_acceptable", "renderer"]

Obj = dict[str, Any]
Renderer = Callable[[Obj, bool], Any]  # (object or XList, single) -> the body
_MEDIA_TYPES = {"application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "application/cbor",
                "*/*", "application/*"}
_META_VERSIONS = {"v1", "v1beta1"}
_SERVED = "application/json, application/yaml, application/vnd.kubernetes.protobuf"


def not_acceptable(message: str) -> ApiError:
    return ApiError(406, "NotAcceptable", message)


def _clauses(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for clause in accept.split(","):
        parts = [p.strip() for p in clause.split(";")]
        if not parts[0]:
            continue
        params = {}
        for p in parts[1:]:
            key, _, value = p.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        out.append((parts[0].lower(), params))
    return out


def _target(accept: str) -> str | None:
    """The transformation asked for: "" (the object as stored), "Table", "PartialObjectMetadata[List]"."""
    if not accept.strip():
        return ""
    for media, params in _clauses(accept):
        if media not in _MEDIA_TYPES:
            continue
        as_ = params.get("as", "")
        if not as_:
            return ""
        if params.get("g") != "meta.k8s.io" or params.get("v", "v1") not in _META_VERSIONS:
            continue
        if as_ in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return as_
    return None


def _partial(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def renderer(accept: str, info: ResourceInfo, *, include: str, verb: str) -> Renderer:
    """How to answer a get/list/watch whose request carried `accept`; 406 when nothing in it can be served."""
    target = _target(accept)
    if target is None:
        raise not_acceptable(f"only the following media types are accepted: {_SERVED}")
    if target == "Table":
        return lambda obj, single: tables.to_table(info, obj, single=single, include=include)
    if target == "PartialObjectMetadata":
        if verb == "list":
            raise not_acceptable("you requested PartialObjectMetadata, but the requested object is a list "
                                 f"(*{info.list_kind})")
        return lambda obj, single: _partial(obj)
    if target == "PartialObjectMetadataList":
        if verb not in ("list", "deletecollection"):
            raise not_acceptable("you requested PartialObjectMetadataList, but the requested object is not a list "
                                 f"(*{info.kind})")
        return lambda obj, single: _partial(obj) if single else {
            "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {},
            "items": [_partial(item) for item in obj.get("items") or ()]}
    return lambda obj, single: reads.with_version(info, obj) if single else obj
