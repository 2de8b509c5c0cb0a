"""The three PATCH body types of the kube-apiserver (server-side apply lives in ssa.py).

The embedded API server's patch handler picks one by Content-Type:
`application/merge-patch+json` -> `json_merge_patch` (RFC 7386),
`application/json-patch+json` -> `json_patch` (RFC 6902, through the `jsonpatch` package),
`application/strategic-merge-patch+json` -> `strategic_merge_patch` (built-in kinds only; the
real server answers 415 for custom resources). Errors are `PatchError` carrying the HTTP
code the real server uses (400 for an undecodable patch, 422 for one that cannot be applied,
415 for strategic merge on a custom resource). Pure: inputs are never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch
import jsonpointer

from finplane_emulator.mergekeys import ListRule, Node, is_builtin, node_for_kind

__all__ = ["PatchError", "json_merge_patch", "json_patch", "strategic_merge_patch"]

UNSUPPORTED_SMP_MESSAGE = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
)


class PatchError(ValueError):
    """A patch that cannot be decoded (code 400), applied (422), or is not supported here (415)."""

    def __init__(self, message: str, *, code: int = 400, unsupported_media_type: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unsupported_media_type = unsupported_media_type
        self.code = 415 if unsupported_media_type else code


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces (lists too)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 operations (add, remove, replace, move, copy, test)."""
    if not isinstance(ops, list) or not all(isinstance(op, Mapping) for op in ops):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for op in ops:
        if op.get("op") not in ("add", "remove", "replace", "move", "copy", "test"):
            raise PatchError(f"Unexpected kind: {op.get('op')}")
        if "path" not in op:
            raise PatchError(f"missing path in operation {dict(op)}")
    try:
        return jsonpatch.JsonPatch(list(ops)).apply(target, in_place=False)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise PatchError(f"test operation failed: {exc}", code=422) from None
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException, jsonpatch.JsonPatchException) as exc:
        raise PatchError(str(exc), code=422) from None
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise PatchError(f"invalid JSON patch: {exc}", code=422) from None


def strategic_merge_patch(target: Mapping[str, Any], patch: Any, *, group: str, kind: str,
                          builtin: bool | None = None) -> dict[str, Any]:
    """Apply a strategic merge patch to a built-in object, honouring its merge keys.

    Directives: `$patch: replace|merge|delete` (maps and list items), `$retainKeys`,
    `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`.
    """
    if not (is_builtin(group) if builtin is None else builtin):
        raise PatchError(UNSUPPORTED_SMP_MESSAGE, unsupported_media_type=True)
    if not isinstance(patch, Mapping):
        raise PatchError("invalid JSON document: a strategic merge patch must be a JSON object")
    merged = _merge_map(dict(target), patch, node_for_kind(group, kind), path="")
    return merged if merged is not None else {}


def _merge_map(target: Mapping[str, Any] | None, patch: Mapping[str, Any], node: Node | None,
               *, path: str) -> dict[str, Any] | None:
    """Merge `patch` into the map `target`; None means "delete this map" ($patch: delete)."""
    directive = patch.get("$patch")
    if directive is not None:
        if directive == "delete":
            return None
        if directive == "replace":
            return _strip_directives(patch)
        if directive != "merge":
            raise PatchError(f"Unknown patch type: {directive} in map: {dict(patch)}")
    result = dict(target) if isinstance(target, Mapping) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, Any] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if not isinstance(value, list):
                raise PatchError("invalid patch: $deleteFromPrimitiveList must be a list")
            current = result.get(name)
            if isinstance(current, list):
                result[name] = [v for v in current if v not in value]
            continue
        if key.startswith("$"):
            raise PatchError(f"unknown patch directive: {key}")
        child = node.child(key) if node is not None else None
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            merged = _merge_map(result.get(key) if isinstance(result.get(key), Mapping) else None,
                                value, child if isinstance(child, Node) else None, path=f"{path}.{key}")
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            rule = child if isinstance(child, ListRule) else None
            result[key] = _merge_list(result.get(key), value, rule, path=f"{path}.{key}")
        else:
            result[key] = copy.deepcopy(value)
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            rule = node.child(name) if node is not None else None
            result[name] = _apply_order(result[name], order, rule if isinstance(rule, ListRule) else None)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("invalid patch: $retainKeys must be a list")
        extra = [k for k in patch if not k.startswith("$") and k not in retain]
        if extra:
            raise PatchError("The patch content doesn't match retainKeys list", code=422)
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(target: Any, patch: list[Any], rule: ListRule | None, *, path: str) -> list[Any]:
    current = list(target) if isinstance(target, list) else []
    if rule is None or not rule.smp_merge:
        # No patch strategy: the list is replaced, directive-bearing items are not allowed.
        return [_strip_directives(v) if isinstance(v, Mapping) else copy.deepcopy(v) for v in patch]
    if rule.patch_key is None:
        # Primitive list with merge strategy (finalizers): union, keeping order.
        if any(isinstance(v, Mapping | list) for v in patch):
            raise PatchError(f"the list of primitives at {path or '.'} may hold only primitives")
        return current + [v for v in patch if v not in current]
    key = rule.patch_key
    if any(isinstance(v, Mapping) and v.get("$patch") == "replace" for v in patch):
        return [_strip_directives(v) for v in patch
                if isinstance(v, Mapping) and v.get("$patch") != "replace"]
    for item in patch:
        if not isinstance(item, Mapping):
            raise PatchError(f"the list at {path} is merged by key {key!r}, so its items must be objects", code=422)
        if key not in item:
            raise PatchError(f"map: {dict(item)} does not contain declared merge key: {key}", code=422)
        index = next((i for i, cur in enumerate(current)
                      if isinstance(cur, Mapping) and cur.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                current = [cur for cur in current if not (isinstance(cur, Mapping) and cur.get(key) == item[key])]
            continue
        merged = _merge_map(current[index] if index is not None else None, item, rule.item,
                            path=f"{path}[{key}={item[key]}]")
        if merged is None:
            continue
        if index is None:
            current.append(merged)
        else:
            current[index] = merged
    return current


def _apply_order(items: list[Any], order: Any, rule: ListRule | None) -> list[Any]:
    """Honour `$setElementOrder`: listed items first in the given order, the rest after."""
    if not isinstance(order, list):
        raise PatchError("invalid patch: $setElementOrder must be a list")
    key = rule.patch_key if rule is not None else None

    def ident(value: Any) -> Any:
        if key is not None and isinstance(value, Mapping):
            return ("k", repr(value.get(key)))
        return ("v", repr(value))

    wanted = [ident(v) for v in order]
    rank = {w: i for i, w in enumerate(wanted)}
    listed = sorted((v for v in items if ident(v) in rank), key=lambda v: rank[ident(v)])
    return listed + [v for v in items if ident(v) not in rank]


def _strip_directives(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value
