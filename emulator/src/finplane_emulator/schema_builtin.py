"""Built-in kinds checked against the Kubernetes OpenAPI schemas of the served version, plus a few rules.

Called by `crds.before_write` on every write of a built-in object (custom resources have their
own structural schemas, `schema.py`). The schemas are the `kubernetes-validate` package's JSON
Schema rendering of kube-apiserver's OpenAPI document for `openapi.SCHEMA_VERSION`, the same
ones `/openapi/v3` serves; nothing here restates a field. What a real server refuses, and how:

- a value of the wrong JSON type fails decoding: 400 BadRequest, `Pod in version "v1" cannot be
  handled as a Pod: json: cannot unmarshal string into Go struct field ... of type int32`;
- a missing required field (a container without `name`, a Deployment without `selector`) is a
  validation error: 422 Invalid with `FieldValueRequired` causes, `spec.containers[0].name:
  Required value`, all of an object's errors in one answer as `field.ErrorList.ToAggregate` joins them;
- `metadata.annotations` over 256 KiB in total (keys plus values), for every kind
  (apimachinery's ValidateAnnotationsSize);
- ResourceQuota `spec.hard` values must be non-negative quantities, and LimitRange items must
  keep min <= defaultRequest <= default <= max (ValidateResourceQuota, ValidateLimitRange).

A null is accepted where the schema allows any type (Go decodes it to the zero value), and fields
the schema does not know are left alone (the server's default `fieldValidation=Warn` drops them;
this server keeps them). The walk visits only what the object contains, so a Deployment costs
tens of microseconds, not a full JSON Schema evaluation.
"""

from __future__ import annotations

import functools
import json
from importlib import resources as importlib_resources
from typing import Any

from finplane_emulator.errors import ApiError
from finplane_emulator.initial_status import quantity
from finplane_emulator.openapi import SCHEMA_VERSION
from finplane_emulator.resources import ResourceInfo

__all__ = ["ANNOTATIONS_LIMIT", "validate_builtin"]

Obj = dict[str, Any]
ANNOTATIONS_LIMIT = 256 * 1024  # apimachinery's TotalAnnotationSizeLimitB
_JSON_NAMES = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}
_GO_TYPES = {"integer": "int32", "number": "float64", "string": "string", "boolean": "bool", "array": "[]",
             "object": "map"}


@functools.cache
def _definitions() -> dict[str, Any]:
    base = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema" / SCHEMA_VERSION
    defs: dict[str, Any] = json.loads((base / "_definitions.json").read_text())["$defs"]
    return defs


@functools.cache
def _schema_name(group: str, version: str, kind: str) -> str | None:
    for name, schema in _definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (group, version, kind):
                return name
    return None


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    defs = _definitions()
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _types(node: dict[str, Any]) -> set[str]:
    if "oneOf" in node:
        out: set[str] = set()
        for branch in node["oneOf"]:
            out |= _types(branch)
        return out
    declared = node.get("type")
    if declared is None:
        return set()
    return set(declared) if isinstance(declared, list) else {declared}


_PY_TYPES = {"boolean": (bool,), "integer": (int,), "number": (int, float), "string": (str,), "array": (list,),
             "object": (dict,)}


class _Node:
    """One schema node resolved and compiled once: the exact Python types it accepts and its children."""

    __slots__ = ("accepts", "extra", "integral_floats", "items", "props", "required", "want")

    def __init__(self, raw: dict[str, Any]) -> None:
        node = _resolve(raw)
        types = _types(node) - {"null"}
        self.accepts: frozenset[type] | None = (frozenset(t for name in types for t in _PY_TYPES.get(name, ()))
                                                if types else None)
        self.integral_floats = "integer" in types and "number" not in types
        want = next((t for t in ("integer", "number", "string", "boolean", "array", "object") if t in types), "")
        self.want = _GO_TYPES.get(want, want)
        self.props: dict[str, dict[str, Any]] = node.get("properties") or {}
        self.required: tuple[str, ...] = tuple(k for k in node.get("required") or () if k not in ("apiVersion", "kind"))
        extra = node.get("additionalProperties")
        self.extra = extra if isinstance(extra, dict) else None
        items = node.get("items")
        self.items = items if isinstance(items, dict) else None


_COMPILED: dict[int, _Node] = {}


def _compiled(raw: dict[str, Any]) -> _Node:
    node = _COMPILED.get(id(raw))
    if node is None:
        node = _COMPILED[id(raw)] = _Node(raw)  # raw nodes live as long as the cached definitions
    return node


class _Walk:
    def __init__(self) -> None:
        self.type_error: tuple[str, str, str] | None = None  # (path, JSON type found, Go type wanted)
        self.required: list[str] = []

    def check(self, raw: dict[str, Any], value: Any, path: str) -> None:
        if value is None or self.type_error is not None:
            return
        node = _compiled(raw)
        kind = type(value)
        if node.accepts is not None and kind not in node.accepts:
            if not (kind is float and node.integral_floats and value.is_integer()):
                self.type_error = (path, _JSON_NAMES.get(kind, "value"), node.want)
                return
        if kind is dict:
            for key in node.required:
                if value.get(key) is None:
                    self.required.append(_join(path, key))
            props, extra = node.props, node.extra
            for key, item in value.items():
                sub = props.get(key)
                if sub is not None:
                    self.check(sub, item, f"{path}.{key}" if path else key)
                elif extra is not None:
                    self.check(extra, item, f"{path}[{key}]")
        elif kind is list and node.items is not None:
            items = node.items
            for i, item in enumerate(value):
                self.check(items, item, f"{path}[{i}]")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _invalid(info: ResourceInfo, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid as field.ErrorList.ToAggregate words it: one error plain, several in brackets."""
    texts = [f"{f}: {m}" for _, f, m in causes]
    text = texts[0] if len(texts) == 1 else f"[{', '.join(texts)}]"
    qualified = f"{info.kind}.{info.group}" if info.group else info.kind
    details: dict[str, Any] = {"name": name, "kind": info.kind,
                               "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes]}
    if info.group:
        details["group"] = info.group
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details=details)


def _annotations(md: Obj) -> list[tuple[str, str, str]]:
    annotations = md.get("annotations")
    if not isinstance(annotations, dict):
        return []
    total = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if total > ANNOTATIONS_LIMIT:
        return [("FieldValueTooLong", "metadata.annotations", f"Too long: may not be more than {ANNOTATIONS_LIMIT} bytes")]
    return []


def _quota(obj: Obj) -> list[tuple[str, str, str]]:
    causes = []
    for section in ("hard",):
        for key, value in ((obj.get("spec") or {}).get(section) or {}).items():
            q = quantity(value)
            field = f"spec.{section}[{key}]"
            if q is None:
                causes.append(("FieldValueInvalid", field, f'Invalid value: "{value}": quantities must match the '
                               "regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
            elif q < 0:
                causes.append(("FieldValueInvalid", field, f'Invalid value: "{value}": must be greater than or equal to 0'))
    return causes


def _limit_range(obj: Obj) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    for i, item in enumerate((obj.get("spec") or {}).get("limits") or ()):
        if not isinstance(item, dict):
            continue
        sections = {s: item.get(s) or {} for s in ("min", "max", "default", "defaultRequest")}
        names = sorted({k for values in sections.values() if isinstance(values, dict) for k in values})
        for res in names:
            raw = {s: v.get(res) for s, v in sections.items() if isinstance(v, dict) and res in v}
            qs = {s: quantity(v) for s, v in raw.items()}

            def report(field: str, message: str, *, _i: int = i, _res: str = res, _raw: dict[str, Any] = raw) -> None:
                causes.append(("FieldValueInvalid", f"spec.limits[{_i}].{field}[{_res}]",
                               f'Invalid value: "{_raw[field]}": {message}'))

            def greater(a: str, b: str, *, _qs: dict[str, Any] = qs) -> bool:
                return _qs.get(a) is not None and _qs.get(b) is not None and _qs[a] > _qs[b]

            if greater("min", "max"):
                report("min", f"min value {raw['min']} is greater than max value {raw['max']}")
            if greater("min", "defaultRequest"):
                report("defaultRequest", f"min value {raw['min']} is greater than default request value "
                       f"{raw['defaultRequest']}")
            if greater("defaultRequest", "max"):
                report("defaultRequest", f"default request value {raw['defaultRequest']} is greater than max value "
                       f"{raw['max']}")
            if greater("defaultRequest", "default"):
                report("defaultRequest", f"default request value {raw['defaultRequest']} is greater than default "
                       f"limit value {raw['default']}")
            if greater("min", "default"):
                report("default", f"min value {raw['min']} is greater than default value {raw['default']}")
            if greater("default", "max"):
                report("default", f"default value {raw['default']} is greater than max value {raw['max']}")
    return causes


def validate_builtin(info: ResourceInfo, obj: Obj) -> None:
    """Raise the ApiError a kube-apiserver answers for this object, or return when it would store it."""
    md = obj.get("metadata") or {}
    name = str(md.get("name") or md.get("generateName") or "")
    causes = _annotations(md)
    if not info.crd:
        schema_name = _schema_name(info.group, info.version, info.kind)
        if schema_name is not None:
            walk = _Walk()
            walk.check(_definitions()[schema_name], obj, "")
            if walk.type_error is not None:
                path, got, want = walk.type_error
                raise ApiError(400, "BadRequest", f'{info.kind} in version "{info.version}" cannot be handled as a '
                               f"{info.kind}: json: cannot unmarshal {got} into Go struct field {info.kind}.{path} "
                               f"of type {want}")
            causes += [("FieldValueRequired", path, "Required value") for path in walk.required]
        if info.group == "" and info.kind == "ResourceQuota":
            causes += _quota(obj)
        elif info.group == "" and info.kind == "LimitRange":
            causes += _limit_range(obj)
    if causes:
        raise _invalid(info, name, causes)
