"""Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get`.

Called by the HTTP layer when the Accept header asks `as=Table`. Built-in kinds get the
columns kubectl users know (a subset of the real printers, with their `-o wide` columns; the cells
of the longer ones are in `printers.py`); custom resources get Name plus
their CRD's `additionalPrinterColumns`, evaluated with a small JSONPath subset (`.a.b`,
`[N]`, `['key']`, `[?(@.field=="value")]`), or Name and Age when they declare none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from finplane_emulator import printers
from finplane_emulator.printers import human_age
from finplane_emulator.resources import ResourceInfo

__all__ = ["human_age", "jsonpath", "to_table"]

Obj = dict[str, Any]
_TOKEN = re.compile(r"""\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']*)'\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*["']([^"']*)["']\)\]""")


def jsonpath(obj: Any, path: str) -> Any:
    """The first value `path` selects in `obj`, or None."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    path = path.lstrip("$")
    cur: Any = obj
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            return None
        pos = m.end()
        name, index, quoted, fkey, fvalue = m.groups()
        if name is not None or quoted is not None:
            cur = cur.get(name if name is not None else quoted) if isinstance(cur, dict) else None
        elif index is not None:
            cur = cur[int(index)] if isinstance(cur, list) and int(index) < len(cur) else None
        else:
            if not isinstance(cur, list):
                return None
            found = None
            for item in cur:
                val = item
                for part in fkey.split("."):
                    val = val.get(part) if isinstance(val, dict) else None
                if val is not None and str(val) == fvalue:
                    found = item
                    break
            cur = found
        if cur is None:
            return None
    return cur


def _col(name: str, type_: str = "string", desc: str = "", priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": desc, "priority": priority}


def _ready(o: Obj) -> str:
    st = o.get("status") or {}
    return f"{st.get('readyReplicas', 0)}/{(o.get('spec') or {}).get('replicas', 0)}"


def _data_count(o: Obj) -> int:
    return len(o.get("data") or {}) + len(o.get("binaryData") or {})


# Built-in printers: extra columns between Name and Age, as (column, cell function).
_BUILTIN: dict[tuple[str, str], list[tuple[dict[str, Any], Callable[[Obj], Any]]]] = {
    ("", "Namespace"): [(_col("Status"), lambda o: (o.get("status") or {}).get("phase", ""))],
    ("", "ConfigMap"): [(_col("Data", "integer"), _data_count)],
    ("", "Secret"): [(_col("Type"), lambda o: o.get("type", "")), (_col("Data", "integer"), _data_count)],
    ("", "Service"): [(_col("Type"), lambda o: (o.get("spec") or {}).get("type", "")),
                      (_col("Cluster-IP"), lambda o: (o.get("spec") or {}).get("clusterIP", "<none>")),
                      (_col("External-IP"), printers.service_external_ip),
                      (_col("Port(s)"), printers.service_ports)],
    ("networking.k8s.io", "NetworkPolicy"): [
        (_col("Pod-Selector"), lambda o: printers.label_selector((o.get("spec") or {}).get("podSelector")))],
    ("", "ServiceAccount"): [(_col("Secrets", "integer"), lambda o: len(o.get("secrets") or ()))],
    ("", "Pod"): [(_col("Ready"), printers.pod_ready),
                  (_col("Status"), lambda o: (o["metadata"].get("deletionTimestamp") and "Terminating")
                   or (o.get("status") or {}).get("reason") or (o.get("status") or {}).get("phase", "Pending")),
                  (_col("Restarts", "string"), printers.pod_restarts)],
    ("apps", "Deployment"): [(_col("Ready"), _ready),
                             (_col("Up-to-date", "integer"), lambda o: (o.get("status") or {}).get("updatedReplicas", 0)),
                             (_col("Available", "integer"), lambda o: (o.get("status") or {}).get("availableReplicas", 0))],
    ("apps", "ReplicaSet"): [(_col("Desired", "integer"), lambda o: (o.get("spec") or {}).get("replicas", 0)),
                             (_col("Current", "integer"), lambda o: (o.get("status") or {}).get("replicas", 0)),
                             (_col("Ready", "integer"), lambda o: (o.get("status") or {}).get("readyReplicas", 0))],
    ("apiextensions.k8s.io", "CustomResourceDefinition"): [
        (_col("Created At", "date"), lambda o: o["metadata"].get("creationTimestamp", ""))],
    ("coordination.k8s.io", "Lease"): [(_col("Holder"), lambda o: (o.get("spec") or {}).get("holderIdentity", ""))],
}


# Built-in printers' wide columns (priority 1, shown by `-o wide`), after Age as the real printers order them.
_WIDE: dict[tuple[str, str], list[tuple[dict[str, Any], Callable[[Obj], Any]]]] = {
    ("apps", "Deployment"): [(_col("Containers", priority=1), printers.containers),
                             (_col("Images", priority=1), printers.images),
                             (_col("Selector", priority=1),
                              lambda o: printers.label_selector((o.get("spec") or {}).get("selector")))],
    ("apps", "ReplicaSet"): [(_col("Containers", priority=1), printers.containers),
                             (_col("Images", priority=1), printers.images),
                             (_col("Selector", priority=1),
                              lambda o: printers.label_selector((o.get("spec") or {}).get("selector")))],
    ("", "Pod"): [(_col("IP", priority=1), lambda o: (o.get("status") or {}).get("podIP") or "<none>"),
                  (_col("Node", priority=1), lambda o: (o.get("spec") or {}).get("nodeName") or "<none>"),
                  (_col("Nominated Node", priority=1),
                   lambda o: (o.get("status") or {}).get("nominatedNodeName") or "<none>"),
                  (_col("Readiness Gates", priority=1), printers.pod_readiness_gates)],
    ("", "Service"): [(_col("Selector", priority=1),
                       lambda o: printers.label_map((o.get("spec") or {}).get("selector")))],
}


def _date_cell(path: str) -> Callable[[Obj], Any]:
    return lambda o: human_age(jsonpath(o, path))


def _path_cell(path: str) -> Callable[[Obj], Any]:
    return lambda o: jsonpath(o, path)


def _columns(info: ResourceInfo) -> list[tuple[dict[str, Any], Callable[[Obj], Any]]]:
    name_col = (_col("Name", desc="Name must be unique within a namespace.", fmt="name"),
                lambda o: o["metadata"].get("name", ""))
    age_col = (_col("Age", "date", "CreationTimestamp is a timestamp representing the server time when this "
                    "object was created."), lambda o: human_age(o["metadata"].get("creationTimestamp")))
    if info.crd and info.printer_columns:
        cols = [name_col]
        for pc in info.printer_columns:
            type_ = pc.get("type", "string")
            path = pc.get("jsonPath", "")
            fn = _date_cell(path) if type_ == "date" else _path_cell(path)
            cols.append((_col(pc["name"], type_, pc.get("description", ""), int(pc.get("priority", 0)),
                              pc.get("format", "")), fn))
        return cols
    if (info.group, info.kind) == ("", "Event"):
        return printers.EVENT_COLUMNS
    key = (info.group, info.kind)
    return [name_col, *_BUILTIN.get(key, []), age_col, *_WIDE.get(key, [])]


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, separators=(",", ":"))
    return value


def to_table(info: ResourceInfo, obj: Obj, *, single: bool, include: str = "Metadata") -> Obj:
    """A Table for one object or for a list (`single` false: `obj` is an XList)."""
    cols = _columns(info)
    items = [obj] if single else obj.get("items", [])
    rows = []
    for item in items:
        row: Obj = {"cells": [_cell(fn(item)) for _, fn in cols]}
        if include == "Object":
            row["object"] = {**item, "apiVersion": info.api_version, "kind": info.kind}
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": item["metadata"]}
        rows.append(row)
    md = obj.get("metadata") or {}
    meta: Obj = {"resourceVersion": md.get("resourceVersion", "")}
    if not single and md.get("continue"):
        meta["continue"] = md["continue"]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": [c for c, _ in cols], "rows": rows}
