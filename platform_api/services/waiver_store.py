"""Where pending waiver requests live: one ConfigMap per request in the API's own namespace.

Called by :mod:`platform_api.services.waivers`. Each request is a ConfigMap
``waiver-<id>`` in ``waiver_namespace`` (the namespace the API runs in), labelled
``finplane.io/waiver-request=true`` and ``finplane.io/team=<team>``, holding the request as JSON under
``request.json``. Why not annotations on the CompliancePolicy (as before): every request added up to
~12 KB to one object whose annotations a real API server caps at 256 KiB, so a few dozen requests stopped
everyone's. One small object per request has no shared ceiling; teams cannot write into the API's
namespace, so they cannot forge or edit a request; and a namespaced, label-selected informer keeps reads
in the cache without watching every ConfigMap of the cluster.

A decision (approve, reject, withdraw) first *claims* the ConfigMap with a resourceVersion-guarded
update that flips its label to ``claimed`` — of two racing deciders exactly one wins, the other gets 409 —
then does its work and deletes it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from finplane.kube import errors as kerr
from platform_api.cache import WAIVER_REQUEST, WAIVER_REQUEST_LABEL, ReadCache
from platform_api.problems import Problem
from platform_api.state import Writer

__all__ = ["claim", "config_map", "pending", "record_of", "release", "remove"]

Obj = dict[str, Any]
KEY = "request.json"


def config_map(*, waiver_id: str, namespace: str, record: Obj) -> Obj:
    labels = {WAIVER_REQUEST_LABEL: "true", "app.kubernetes.io/managed-by": "finplane-platform-api"}
    if record.get("team"):
        labels["finplane.io/team"] = str(record["team"])
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"waiver-{waiver_id}", "namespace": namespace, "labels": labels,
                         "annotations": {"finplane.io/policy": str(record.get("policy", ""))}},
            "data": {KEY: json.dumps(record, sort_keys=True)}}


def record_of(cm: Obj) -> Obj | None:
    """The request a ConfigMap holds, with its id; None when it is not a pending request of ours."""
    meta = cm.get("metadata", {})
    if (meta.get("labels") or {}).get(WAIVER_REQUEST_LABEL) != "true":
        return None
    try:
        record = json.loads((cm.get("data") or {}).get(KEY, ""))
    except ValueError:
        return None
    if not isinstance(record, dict) or not str(meta.get("name", "")).startswith("waiver-"):
        return None
    return {**record, "id": str(meta["name"])[len("waiver-"):]}


def pending(cache: ReadCache, *, namespace: str) -> list[tuple[Obj, Obj]]:
    """(ConfigMap, request) of every pending request in the waiver namespace."""
    out = []
    for cm in cache.list(WAIVER_REQUEST):
        if cm.get("metadata", {}).get("namespace") != namespace:
            continue
        record = record_of(cm)
        if record is not None:
            out.append((cm, record))
    return out


async def _relabel(writer: Writer, cache: ReadCache, cm: Obj, value: str) -> Obj:
    body = copy.deepcopy(cm)
    body["metadata"].setdefault("labels", {})[WAIVER_REQUEST_LABEL] = value
    written = await writer.replace(body)
    cache.observe(written)
    return written


async def claim(*, writer: Writer, cache: ReadCache, cm: Obj) -> Obj:
    """Take the request for one decision; 409 when another decision (or a withdrawal) took it first."""
    try:
        return await _relabel(writer, cache, cm, "claimed")
    except (kerr.Conflict, kerr.NotFound):
        raise Problem(409, "The waiver request was decided or withdrawn meanwhile; list the waivers again.",
                      slug="conflict", reason="AlreadyDecided") from None


async def release(*, writer: Writer, cache: ReadCache, cm: Obj) -> None:
    """Give a claimed request back (the decision failed), so that it is still pending."""
    await _relabel(writer, cache, cm, "true")


async def remove(*, writer: Writer, cache: ReadCache, cm: Obj) -> None:
    meta = cm["metadata"]
    try:
        await writer.delete("v1", "ConfigMap", meta["name"], meta["namespace"])
    except kerr.NotFound:
        pass
    cache.forget(cm)
