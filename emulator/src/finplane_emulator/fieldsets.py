"""Field paths and sets in the `FieldsV1` format of managedFields (used by ssa.py only).

A path is a tuple of elements exactly as FieldsV1 writes them: `f:<field>` for a map key,
`k:{"name":"app"}` for an item of an associative list, `v:"x"` for a value of a set list.
A field set is a Python set of such tuples; `to_fields_v1` / `from_fields_v1` convert to and
from the nested dict stored in `metadata.managedFields[].fieldsV1` (with `.` marking a node
that is itself a member and has children). `path_string` renders a path the way conflict
messages print it (`.spec.containers[name="app"].image`). Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from finplane_emulator.mergekeys import ListRule, Node

__all__ = [
    "MISSING",
    "FieldSet",
    "Path",
    "collect",
    "from_fields_v1",
    "get_at",
    "item_element",
    "path_string",
    "remove_at",
    "to_fields_v1",
]

Path = tuple[str, ...]
FieldSet = set[Path]
MISSING: Any = object()

# metadata fields the real field manager never tracks (internal/stripmeta.go).
_IGNORED_META = frozenset({"name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                           "generation", "managedFields", "resourceVersion", "deletionTimestamp",
                           "deletionGracePeriodSeconds"})
_IGNORED_TOP = frozenset({"apiVersion", "kind"})


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def item_element(item: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """`k:{...}` for an associative list item, or None when it lacks every key."""
    present = {k: item[k] for k in keys if k in item}
    return f"k:{_dump(present)}" if present else None


def collect(value: Any, node: Node | ListRule | None, *, prefix: Path = (), out: FieldSet | None = None,
            maps: bool = False, top: bool = True) -> FieldSet:
    """All field paths of `value` (leaves, list items, set values); `maps` adds nested maps too."""
    out = set() if out is None else out
    if isinstance(value, Mapping) and not isinstance(node, ListRule):
        if not value:
            if prefix:
                out.add(prefix)
            return out
        if maps and prefix and prefix != ("f:metadata",):
            out.add(prefix)
        for key, sub in value.items():
            if top and key in _IGNORED_TOP:
                continue
            if prefix == ("f:metadata",) and key in _IGNORED_META:
                continue
            child = node.child(key) if isinstance(node, Node) else None
            collect(sub, child, prefix=prefix + (f"f:{key}",), out=out, maps=maps, top=False)
        return out
    if isinstance(value, list) and isinstance(node, ListRule) and node.kind != "atomic":
        if node.kind == "set":
            out.update(prefix + (f"v:{_dump(v)}",) for v in value)
            if not value:
                out.add(prefix)
            return out
        elements = [item_element(v, node.keys) if isinstance(v, Mapping) else None for v in value]
        if None in elements:
            out.add(prefix)  # items without their keys: track the list as a whole
            return out
        for item, element in zip(value, elements, strict=True):
            item_path = prefix + (element,)
            out.add(item_path)
            collect(item, node.item or Node(), prefix=item_path, out=out, maps=maps, top=False)
        if not value:
            out.add(prefix)
        return out
    if prefix:
        out.add(prefix)
    return out


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    members: set[int] = set()
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        members.add(id(node))

    def render(node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and id(node) in members:
            out["."] = {}
        for key in sorted(node):
            out[key] = render(node[key])
        return out

    return render(tree)


def from_fields_v1(fields: Mapping[str, Any] | None, prefix: Path = ()) -> FieldSet:
    out: FieldSet = set()
    for key, sub in (fields or {}).items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        if not sub:
            out.add(prefix + (key,))
        else:
            out |= from_fields_v1(sub, prefix + (key,))
    return out


def _find_item(items: list[Any], element: str) -> int | None:
    wanted = json.loads(element[2:])
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and all(k in item and item[k] == v for k, v in wanted.items()):
            return i
    return None


def get_at(obj: Any, path: Path) -> Any:
    """The value at `path`, or MISSING."""
    cur = obj
    for element in path:
        kind, rest = element[:2], element[2:]
        if kind == "f:" and isinstance(cur, Mapping) and rest in cur:
            cur = cur[rest]
        elif kind == "k:" and isinstance(cur, list):
            index = _find_item(cur, element)
            if index is None:
                return MISSING
            cur = cur[index]
        elif kind == "v:" and isinstance(cur, list):
            value = json.loads(rest)
            if value not in cur:
                return MISSING
            cur = value
        else:
            return MISSING
    return cur


def remove_at(obj: Any, path: Path) -> None:
    """Remove the field, list item or set value at `path` from `obj` (in place); no-op if absent."""
    parent = get_at(obj, path[:-1]) if len(path) > 1 else obj
    element = path[-1]
    kind, rest = element[:2], element[2:]
    if kind == "f:" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif kind == "k:" and isinstance(parent, list):
        index = _find_item(parent, element)
        if index is not None:
            del parent[index]
    elif kind == "v:" and isinstance(parent, list):
        value = json.loads(rest)
        while value in parent:
            parent.remove(value)


def path_string(path: Path) -> str:
    """fieldpath.Path.String(): `.spec.replicas`, `[name="app"]`, `[="x"]`."""
    parts: list[str] = []
    for element in path:
        kind, rest = element[:2], element[2:]
        if kind == "f:":
            parts.append(f".{rest}")
        elif kind == "k:":
            keys = json.loads(rest)
            parts.append("[" + ",".join(f"{k}={_dump(v)}" for k, v in keys.items()) + "]")
        elif kind == "v:":
            parts.append(f"[={rest}]")
        else:
            parts.append(element)
    return "".join(parts)
