"""Server-side apply and managedFields bookkeeping, in the real `FieldsV1` format.

The embedded API server calls `apply` for `application/apply-patch+yaml` PATCH requests and
`record_update` after every create / update / non-apply patch, so `metadata.managedFields`
says which manager owns which field, like the kube-apiserver's field manager
(k8s.io/apimachinery/pkg/util/managedfields and sigs.k8s.io/structured-merge-diff):
applied fields are merged into the live object (associative lists by their keys, from the
table in mergekeys.py or a CRD schema's x-kubernetes-list-type), fields the manager stopped
applying are removed unless someone else owns them, and changing a field another manager owns
is an `ApplyConflict` unless forced (then ownership moves). Pure: inputs are never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finplane_emulator.fieldsets import (
    MISSING,
    FieldSet,
    Path,
    collect,
    from_fields_v1,
    get_at,
    item_element,
    path_string,
    remove_at,
    to_fields_v1,
)
from finplane_emulator.jsondata import copy_json
from finplane_emulator.mergekeys import ListRule, Node, node_for_kind, node_from_schema

__all__ = ["ApplyConflict", "apply", "record_update"]

Obj = dict[str, Any]


class ApplyConflict(Exception):
    """409: the apply would change fields other managers own. `.conflicts`: [(path, manager)]."""

    def __init__(self, conflicts: list[tuple[str, str]], message: str) -> None:
        super().__init__(message)
        self.conflicts = conflicts
        self.message = message


_clone = copy_json  # JSON data only: much faster than copy.deepcopy on every apply


def _rules(group: str, kind: str, schema: Mapping[str, Any] | None) -> Node:
    return node_from_schema(schema) if schema is not None else node_for_kind(group, kind)


def _scope(obj: Mapping[str, Any], subresource: str) -> Obj:
    """The part of an object a request may manage: status on /status, the rest on the main resource."""
    if subresource == "status":
        return {k: v for k, v in obj.items() if k in ("apiVersion", "kind", "metadata", "status")} | (
            {"metadata": {}} if "metadata" not in obj else {})
    return {k: v for k, v in obj.items() if k != "status"}


def _fields(obj: Mapping[str, Any], rules: Node, subresource: str, *, maps: bool = False) -> FieldSet:
    scoped = _scope(obj, subresource)
    if subresource == "status":
        scoped = {"status": scoped["status"]} if "status" in scoped else {}
    return collect(scoped, rules, maps=maps)


def _entries(obj: Mapping[str, Any] | None) -> list[Obj]:
    return [dict(e) for e in ((obj or {}).get("metadata") or {}).get("managedFields") or []]


def _entry_key(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    return entry.get("manager", ""), entry.get("operation", ""), entry.get("subresource", "")


def _manager_label(entry: Mapping[str, Any]) -> str:
    """printManager() of the real conflict message."""
    text = f'"{entry.get("manager", "")}"'
    if entry.get("subresource"):
        text += f' with subresource "{entry["subresource"]}"'
    if entry.get("operation") == "Update":
        text += f" using {entry.get('apiVersion', '')}"
        if entry.get("time"):
            text += f" at {entry['time']}"
    return text


def conflict_message(conflicts: list[tuple[str, Mapping[str, Any]]]) -> str:
    if len(conflicts) == 1:
        path, entry = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {_manager_label(entry)}: {path}"
    by_manager: dict[str, list[str]] = {}
    for path, entry in conflicts:
        by_manager.setdefault(_manager_label(entry), []).append(path)
    lines: list[str] = []
    for label in sorted(by_manager):
        lines.append(f"conflicts with {label}:")
        lines.extend(f"- {p}" for p in by_manager[label])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def _merge(live: Any, applied: Any, rule: Node | ListRule | None) -> Any:
    """Merge an applied configuration into live data along the list rules."""
    if isinstance(applied, Mapping) and isinstance(live, Mapping) and not isinstance(rule, ListRule):
        out = dict(live)
        for key, value in applied.items():
            child = rule.child(key) if isinstance(rule, Node) else None
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = _merge(out[key], value, child)
            else:
                out[key] = _merge(MISSING, value, child)
        return out
    if isinstance(applied, list) and isinstance(rule, ListRule) and rule.kind != "atomic" and isinstance(live, list):
        if rule.kind == "set":
            return list(live) + [_clone(v) for v in applied if v not in live]
        out_list = list(live)
        for item in applied:
            element = item_element(item, rule.keys) if isinstance(item, Mapping) else None
            if element is None:
                return _clone(applied)  # keyless items: behave atomically
            index = next((i for i, cur in enumerate(out_list) if isinstance(cur, Mapping)
                          and item_element(cur, rule.keys) == element), None)
            if index is None:
                out_list.append(_merge(MISSING, item, rule.item))
            else:
                out_list[index] = _merge(out_list[index], item, rule.item)
        return out_list
    if isinstance(applied, Mapping):
        return {k: _merge(MISSING, v, rule.child(k) if isinstance(rule, Node) else None)
                for k, v in applied.items() if v is not None}
    return _clone(applied)


def _owned_below(fieldset: FieldSet, path: Path) -> bool:
    n = len(path)
    return any(p[:n] == path for p in fieldset)


def _prune_empty(obj: Any, path: Path, owned: FieldSet) -> None:
    """After a removal, drop parents left empty that nobody owns (structured-merge-diff does too)."""
    for cut in range(len(path) - 1, 0, -1):
        parent = path[:cut]
        value = get_at(obj, parent)
        if value in ({}, []) and parent not in owned and not parent[-1].startswith("k:"):
            remove_at(obj, parent)
        else:
            return


def apply(live: Obj | None, applied: Obj, *, manager: str, force: bool, group: str, kind: str, now: str,
          schema: Mapping[str, Any] | None = None, subresource: str = "") -> Obj:
    """Server-side apply of `applied` by `manager`; raise ApplyConflict unless `force`."""
    rules = _rules(group, kind, schema)
    applied = _clone(dict(applied))
    applied.setdefault("metadata", {})
    applied["metadata"].pop("managedFields", None)
    new_set = _fields(applied, rules, subresource)
    entries = _entries(live)
    key = (manager, "Apply", subresource)
    mine = next((e for e in entries if _entry_key(e) == key), None)
    prev_set = from_fields_v1(mine.get("fieldsV1")) if mine else set()
    others = [(e, from_fields_v1(e.get("fieldsV1"))) for e in entries if _entry_key(e) != key]

    base = _clone(live) if live is not None else {}
    scoped_applied = _scope(applied, subresource)
    if subresource == "status":
        scoped_applied = {"status": applied["status"]} if "status" in applied else {}
    merged = _merge(base, scoped_applied, rules)
    merged["apiVersion"] = applied.get("apiVersion", merged.get("apiVersion"))
    merged["kind"] = applied.get("kind", merged.get("kind"))

    conflicts: list[tuple[Path, Mapping[str, Any]]] = []
    for entry, owned in others:
        for path in sorted(new_set & owned):
            if path[-1].startswith(("k:", "v:")):
                continue  # list membership never conflicts; only values do
            if get_at(live or {}, path) != get_at(merged, path):
                conflicts.append((path, entry))
    if conflicts and not force:
        shown = sorted(((path_string(p), e) for p, e in conflicts), key=lambda c: (c[1].get("manager", ""), c[0]))
        raise ApplyConflict([(p, e.get("manager", "")) for p, e in shown], conflict_message(shown))
    stolen = {p for p, _ in conflicts}
    others = [(e, owned - stolen) for e, owned in others]
    owned_by_others: FieldSet = set().union(*(o for _, o in others)) if others else set()
    removed: list[Path] = []
    for path in sorted(prev_set - new_set, key=len):  # parents first: an item goes with its fields
        if any(path[:len(r)] == r for r in removed):
            continue
        if _owned_below(owned_by_others, path) or _owned_below(new_set, path):
            continue
        remove_at(merged, path)
        removed.append(path)
        _prune_empty(merged, path, owned_by_others | new_set)

    unchanged = (live is not None and _strip_mf(merged) == _strip_mf(live) and mine is not None
                 and prev_set == new_set and not stolen)
    if unchanged:
        # `merged` is built on a copy of live and equals it, managedFields included: return it, not another copy.
        return merged
    entry = _entry(manager, "Apply", applied.get("apiVersion", ""), now, new_set, subresource)
    result_entries: list[Obj] = []
    remaining = {id(e): o for e, o in others}
    for old_entry in entries:
        if _entry_key(old_entry) == key:
            result_entries.append(entry)
            continue
        owned = remaining.get(id(old_entry), set())
        if owned:
            result_entries.append(old_entry if owned == from_fields_v1(old_entry.get("fieldsV1"))
                                  else {**old_entry, "fieldsV1": to_fields_v1(owned)})
    if mine is None:
        result_entries.append(entry)
    merged.setdefault("metadata", {})["managedFields"] = result_entries
    return merged


def _strip_mf(obj: Mapping[str, Any]) -> Obj:
    out = dict(obj)
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return out


def _entry(manager: str, operation: str, api_version: str, now: str, fields: FieldSet, subresource: str) -> Obj:
    entry: Obj = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
                  "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(fields)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def record_update(old: Obj | None, new: Obj, *, manager: str, operation: str, now: str, subresource: str = "",
                  group: str = "", kind: str = "", schema: Mapping[str, Any] | None = None) -> Obj:
    """Ownership after a create/update/patch: `manager` gains what it changed, others lose it."""
    rules = _rules(group or _group_of(new), kind or new.get("kind", ""), schema)
    new_fields = _fields(new, rules, subresource, maps=True)
    if old is None:
        changed = new_fields
    else:
        old_fields = _fields(old, rules, subresource, maps=True)
        changed = {p for p in new_fields
                   if p not in old_fields or (not _is_container(new, p) and get_at(old, p) != get_at(new, p))}
    entries = _entries(new) if new.get("metadata", {}).get("managedFields") is not None else _entries(old)
    key = (manager, operation, subresource)
    existing: FieldSet | None = None  # walked only when another manager's entry needs trimming
    result: list[Obj] = []
    found = False
    for entry in entries:
        owned = from_fields_v1(entry.get("fieldsV1"))
        if _entry_key(entry) == key:
            found = True
            total = (owned & new_fields) | changed
            if total == owned and not changed:
                result.append(entry)
            elif total:
                result.append(_entry(manager, operation, new.get("apiVersion", ""), now, total, subresource))
            continue
        if existing is None:
            existing = collect(new, rules, maps=True)
        kept = (owned - changed) & existing  # nobody owns fields that no longer exist
        if kept == owned:
            result.append(entry)
        elif kept:
            result.append({**entry, "fieldsV1": to_fields_v1(kept)})
    if not found and changed:
        result.append(_entry(manager, operation, new.get("apiVersion", ""), now, changed, subresource))
    out = dict(new)
    out["metadata"] = {**(new.get("metadata") or {}), "managedFields": result}
    if not result:
        out["metadata"].pop("managedFields")
    return out


def _is_container(obj: Any, path: Path) -> bool:
    value = get_at(obj, path)
    return isinstance(value, Mapping) and bool(value) or path[-1].startswith("k:")


def _group_of(obj: Mapping[str, Any]) -> str:
    api_version = obj.get("apiVersion", "")
    return api_version.split("/")[0] if "/" in api_version else ""
