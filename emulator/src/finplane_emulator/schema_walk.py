"""The walk behind schema.py: compiled schema nodes, and validate / default / prune over them.

`build_node` turns a structural OpenAPI v3 schema (a CRD's `openAPIV3Schema`) into `SchemaNode`s
once (regexes and CEL rules compiled); `validate_value`, `default_value` and `prune_value`
then walk an object along them. Only schema.py calls this module. Messages mirror
k8s.io/kube-openapi/pkg/validation (strings like "%s in body should be greater than or equal
to %v") as converted to field errors by k8s.io/apiextensions-apiserver. Pure: no I/O.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from finplane_emulator.cel import CelCompileError, CelEvalError, CelRule, compile_rule
from finplane_emulator.schema_errors import FieldError, go_float

__all__ = ["SchemaNode", "build_node", "default_value", "prune_value", "validate_value"]

_MISSING: Any = object()
_ROOT_KEEP = ("apiVersion", "kind", "metadata")

# Formats the kube-apiserver checks on strings (a subset of kube-openapi's strfmt registry).
_FORMATS = {
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"),
    "datetime": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"),
    "byte": re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"),
    "ipv4": re.compile(r"^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"),
    "hostname": re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "duration": re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w))+$"),
    "uri": re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$"),
}
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


@dataclass
class SchemaNode:
    """One compiled schema node (only the keywords the kube-apiserver honours)."""

    type: str | None = None
    nullable: bool = False
    int_or_string: bool = False
    preserve: bool = False
    embedded: bool = False
    root: bool = False
    properties: dict[str, SchemaNode] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    additional: SchemaNode | bool | None = None
    items: SchemaNode | None = None
    enum: list[Any] | None = None
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    fmt: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    multiple_of: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    min_properties: int | None = None
    max_properties: int | None = None
    list_type: str = "atomic"
    map_keys: tuple[str, ...] = ()
    has_default: bool = False
    default: Any = None
    rules: list[CelRule] = field(default_factory=list)
    all_of: list[SchemaNode] = field(default_factory=list)
    any_of: list[SchemaNode] = field(default_factory=list)
    one_of: list[SchemaNode] = field(default_factory=list)
    not_: SchemaNode | None = None


def build_node(schema: Mapping[str, Any], *, path: str, problems: list[FieldError], root: bool = False) -> SchemaNode:
    node = SchemaNode(
        type=schema.get("type"), nullable=bool(schema.get("nullable")),
        int_or_string=bool(schema.get("x-kubernetes-int-or-string")),
        preserve=bool(schema.get("x-kubernetes-preserve-unknown-fields")),
        embedded=bool(schema.get("x-kubernetes-embedded-resource")), root=root,
        required=tuple(schema.get("required") or ()), enum=schema.get("enum"), fmt=schema.get("format"),
        minimum=schema.get("minimum"), maximum=schema.get("maximum"),
        exclusive_minimum=bool(schema.get("exclusiveMinimum")), exclusive_maximum=bool(schema.get("exclusiveMaximum")),
        multiple_of=schema.get("multipleOf"), min_length=schema.get("minLength"), max_length=schema.get("maxLength"),
        min_items=schema.get("minItems"), max_items=schema.get("maxItems"),
        min_properties=schema.get("minProperties"), max_properties=schema.get("maxProperties"),
        list_type=schema.get("x-kubernetes-list-type") or "atomic",
        map_keys=tuple(schema.get("x-kubernetes-list-map-keys") or ()),
        has_default="default" in schema, default=schema.get("default"),
    )
    if "pattern" in schema:
        node.pattern_text = schema["pattern"]
        try:
            node.pattern = re.compile(node.pattern_text)
        except re.error as exc:
            problems.append(FieldError("FieldValueInvalid", f"{path}.pattern", node.pattern_text,
                                       f"must be a valid regular expression, but isn't: {exc}"))
    for name, sub in (schema.get("properties") or {}).items():
        node.properties[name] = build_node(sub, path=f"{path}.properties[{name}]", problems=problems)
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        node.additional = build_node(extra, path=f"{path}.additionalProperties", problems=problems)
    elif isinstance(extra, bool):
        node.additional = extra
    if isinstance(schema.get("items"), Mapping):
        node.items = build_node(schema["items"], path=f"{path}.items", problems=problems)
    for key, target in (("allOf", node.all_of), ("anyOf", node.any_of), ("oneOf", node.one_of)):
        for i, sub in enumerate(schema.get(key) or ()):
            target.append(build_node(sub, path=f"{path}.{key}[{i}]", problems=problems))
    if isinstance(schema.get("not"), Mapping):
        node.not_ = build_node(schema["not"], path=f"{path}.not", problems=problems)
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or ()):
        try:
            node.rules.append(compile_rule(rule))
        except CelCompileError as exc:
            problems.append(FieldError("FieldValueInvalid", f"{path}.x-kubernetes-validations[{i}].rule",
                                       rule.get("rule"), str(exc)))
    return node


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(expected: str, actual: str) -> bool:
    return expected == actual or (expected == "number" and actual == "integer")


def _same(a: Any, b: Any) -> bool:
    """JSON equality (True is not 1)."""
    return json_type(a) == json_type(b) and a == b if not isinstance(a, dict | list) else a == b


def validate_value(node: SchemaNode, value: Any, old: Any, *, path: str, errors: list[FieldError], has_old: bool) -> None:
    name = path or "<nil>"
    actual = json_type(value)
    if value is None:
        if not node.nullable and (node.type or node.int_or_string):
            wanted = "integer,string" if node.int_or_string else node.type
            errors.append(FieldError("FieldValueTypeInvalid", name, "null",
                                     f"{name} in body must be of type {wanted}: \"null\""))
        return
    if node.int_or_string:
        if actual not in ("integer", "string"):
            errors.append(FieldError("FieldValueTypeInvalid", name, actual,
                                     f"{name} in body must be of type integer,string: \"{actual}\""))
            return
    elif node.type and not _type_ok(node.type, actual):
        errors.append(FieldError("FieldValueTypeInvalid", name, actual,
                                 f"{name} in body must be of type {node.type}: \"{actual}\""))
        return
    if node.enum is not None and not any(_same(value, allowed) for allowed in node.enum):
        shown = ", ".join(f'"{v}"' if isinstance(v, str) else f'"{_json(v)}"' for v in node.enum)
        errors.append(FieldError("FieldValueNotSupported", name, value, f"supported values: {shown}"))
    if actual == "string":
        _check_string(node, value, name, errors)
    elif actual in ("integer", "number"):
        _check_number(node, value, name, errors)
    elif actual == "array":
        _check_array(node, value, old, path=path, errors=errors, has_old=has_old)
    elif actual == "object":
        _check_object(node, value, old, path=path, errors=errors, has_old=has_old)
    _check_combinators(node, value, name, errors)
    if node.rules:
        _check_rules(node, value, old, name=name, errors=errors, has_old=has_old)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _check_string(node: SchemaNode, value: str, name: str, errors: list[FieldError]) -> None:
    if node.max_length is not None and len(value) > node.max_length:
        errors.append(FieldError("FieldValueTooLong", name, value, f"may not be more than {node.max_length} bytes"))
    if node.min_length is not None and len(value) < node.min_length:
        errors.append(FieldError("FieldValueInvalid", name, value,
                                 f"{name} in body should be at least {node.min_length} chars long"))
    if node.pattern is not None and not node.pattern.search(value):
        errors.append(FieldError("FieldValueInvalid", name, value,
                                 f"{name} in body should match '{node.pattern_text}'"))
    if node.fmt in _FORMATS and not _FORMATS[node.fmt].match(value):
        errors.append(FieldError("FieldValueTypeInvalid", name, value,
                                 f"{name} in body must be of type {node.fmt}: \"{value}\""))


def _check_number(node: SchemaNode, value: float, name: str, errors: list[FieldError]) -> None:
    if node.maximum is not None:
        bound = go_float(float(node.maximum))
        if node.exclusive_maximum and value >= node.maximum:
            errors.append(FieldError("FieldValueInvalid", name, value, f"{name} in body should be less than {bound}"))
        elif value > node.maximum:
            errors.append(FieldError("FieldValueInvalid", name, value,
                                     f"{name} in body should be less than or equal to {bound}"))
    if node.minimum is not None:
        bound = go_float(float(node.minimum))
        if node.exclusive_minimum and value <= node.minimum:
            errors.append(FieldError("FieldValueInvalid", name, value, f"{name} in body should be greater than {bound}"))
        elif value < node.minimum:
            errors.append(FieldError("FieldValueInvalid", name, value,
                                     f"{name} in body should be greater than or equal to {bound}"))
    if node.multiple_of and (value / node.multiple_of) != int(value / node.multiple_of):
        errors.append(FieldError("FieldValueInvalid", name, value,
                                 f"{name} in body should be a multiple of {go_float(float(node.multiple_of))}"))
    if node.fmt in _INT_RANGES and isinstance(value, int):
        low, high = _INT_RANGES[node.fmt]
        if not low <= value <= high:
            errors.append(FieldError("FieldValueTypeInvalid", name, value,
                                     f"{name} in body must be of type {node.fmt}: \"{value}\""))


def _item_key(node: SchemaNode, item: Any) -> Any:
    if node.list_type == "map" and isinstance(item, Mapping):
        return tuple(_json(item.get(k)) for k in node.map_keys)
    return _json(item)


def _check_array(node: SchemaNode, value: list[Any], old: Any, *, path: str, errors: list[FieldError], has_old: bool) -> None:
    name = path or "<nil>"
    if node.max_items is not None and len(value) > node.max_items:
        errors.append(FieldError.too_many(name, len(value), node.max_items))
    if node.min_items is not None and len(value) < node.min_items:
        errors.append(FieldError("FieldValueInvalid", name, len(value),
                                 f"{name} in body should have at least {node.min_items} items"))
    if node.list_type in ("set", "map"):
        seen: set[Any] = set()
        for i, item in enumerate(value):
            key = _item_key(node, item)
            if key in seen:
                errors.append(FieldError("FieldValueDuplicate", f"{path}[{i}]", item))
            seen.add(key)
    if node.items is None:
        return
    old_by_key: dict[Any, Any] = {}
    if node.list_type == "map" and isinstance(old, list):
        old_by_key = {_item_key(node, o): o for o in old}
    for i, item in enumerate(value):
        old_item = old_by_key.get(_item_key(node, item), _MISSING) if old_by_key else _MISSING
        validate_value(node.items, item, old_item, path=f"{path}[{i}]", errors=errors, has_old=has_old)


def _check_object(node: SchemaNode, value: Mapping[str, Any], old: Any, *, path: str, errors: list[FieldError],
                  has_old: bool) -> None:
    name = path or "<nil>"
    if node.max_properties is not None and len(value) > node.max_properties:
        errors.append(FieldError.too_many(name, len(value), node.max_properties))
    if node.min_properties is not None and len(value) < node.min_properties:
        errors.append(FieldError("FieldValueInvalid", name, len(value),
                                 f"{name} in body should have at least {node.min_properties} properties"))
    prefix = f"{path}." if path else ""
    for req in node.required:
        if req not in value:
            errors.append(FieldError("FieldValueRequired", f"{prefix}{req}"))
    old_map = old if isinstance(old, Mapping) else {}
    for key, sub in value.items():
        if node.root and key == "metadata":
            continue  # ObjectMeta is validated by the server itself
        child = node.properties.get(key)
        if child is None and isinstance(node.additional, SchemaNode):
            child = node.additional
        if child is not None:
            validate_value(child, sub, old_map.get(key, _MISSING), path=f"{prefix}{key}", errors=errors,
                           has_old=has_old)


def _check_combinators(node: SchemaNode, value: Any, name: str, errors: list[FieldError]) -> None:
    def passes(sub: SchemaNode) -> bool:
        errs: list[FieldError] = []
        validate_value(sub, value, _MISSING, path=name, errors=errs, has_old=False)
        return not errs

    for sub in node.all_of:
        validate_value(sub, value, _MISSING, path=name, errors=errors, has_old=False)
    if node.any_of and not any(passes(s) for s in node.any_of):
        errors.append(FieldError("FieldValueInvalid", name, value, f"{name} in body must validate at least one schema (anyOf)"))
    if node.one_of and sum(passes(s) for s in node.one_of) != 1:
        errors.append(FieldError("FieldValueInvalid", name, value,
                                 f"{name} in body must validate one and only one schema (oneOf)"))
    if node.not_ is not None and passes(node.not_):
        errors.append(FieldError("FieldValueInvalid", name, value, f"{name} in body must not validate the schema (not)"))


def _field_path(base: str, relative: str | None) -> str:
    """Join a rule's fieldPath (".a.b" or "['a']") to the path of the node that holds the rule."""
    if not relative:
        return base
    rel = relative if relative.startswith((".", "[")) else f".{relative}"
    return rel.lstrip(".") if base == "<nil>" else base + rel


def _check_rules(node: SchemaNode, value: Any, old: Any, *, name: str, errors: list[FieldError], has_old: bool) -> None:
    type_name = node.type or ("integer-or-string" if node.int_or_string else "object")
    for rule in node.rules:
        if rule.uses_old_self and (not has_old or old is _MISSING or old is None):
            continue  # transition rules run only on update, where an old value correlates
        old_value = old if rule.uses_old_self else None
        try:
            ok = rule.evaluate(value, old_value)
        except CelEvalError as exc:
            errors.append(FieldError("FieldValueInvalid", name, type_name, f"{exc} evaluating rule: {rule.rule}"))
            continue
        if not ok:
            errors.append(FieldError(rule.reason or "FieldValueInvalid", _field_path(name, rule.field_path),
                                     type_name, rule.failure_message(value, old_value)))


def default_value(node: SchemaNode, value: Any) -> Any:
    """Fill defaults (deep-copied), recursing into defaulted values too, as the real algorithm does."""
    if isinstance(value, Mapping):
        out = dict(value)
        for key, sub in node.properties.items():
            if node.root and key == "metadata":
                continue
            present = key in out
            if not present or (out[key] is None and not sub.nullable):
                if sub.has_default:
                    out[key] = copy.deepcopy(sub.default)
                elif present:
                    del out[key]  # a non-nullable null without default is pruned
                    continue
                else:
                    continue
            out[key] = default_value(sub, out[key])
        if isinstance(node.additional, SchemaNode):
            for key in list(out):
                if key not in node.properties:
                    if out[key] is None and not node.additional.nullable and node.additional.has_default:
                        out[key] = copy.deepcopy(node.additional.default)
                    out[key] = default_value(node.additional, out[key])
        return out
    if isinstance(value, list) and node.items is not None:
        return [copy.deepcopy(node.items.default) if v is None and node.items.has_default and not node.items.nullable
                else default_value(node.items, v) for v in value]
    return value


def prune_value(node: SchemaNode, value: Any, *, path: str, removed: list[str] | None) -> Any:
    """Drop fields the schema does not specify, unless x-kubernetes-preserve-unknown-fields says so."""
    if isinstance(value, Mapping):
        prefix = f"{path}." if path else ""
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if (node.root or node.embedded) and key in _ROOT_KEEP:
                out[key] = sub if key == "metadata" or key not in node.properties else prune_value(
                    node.properties[key], sub, path=f"{prefix}{key}", removed=removed)
                continue
            child = node.properties.get(key)
            if child is None and isinstance(node.additional, SchemaNode):
                child = node.additional
            if child is not None:
                out[key] = prune_value(child, sub, path=f"{prefix}{key}", removed=removed)
            elif node.preserve or node.additional is True:
                out[key] = sub
            elif removed is not None:
                removed.append(f"{prefix}{key}")
        return out
    if isinstance(value, list) and node.items is not None:
        return [prune_value(node.items, v, path=f"{path}[{i}]", removed=removed) for i, v in enumerate(value)]
    return value
