"""GET and LIST: one object, or a filtered, paginated list with the list's resourceVersion.

Called by the HTTP layer (`http.py`) and by the watch handler for its initial events. Lists
are sorted by namespace and name (the order of etcd keys), filtered by label and field
selectors, and cut into pages with `limit`/`continue`; a continue token older than the kept
history gets 410 Expired, as a continue token past etcd compaction does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from finplane_emulator.core import Core
from finplane_emulator.errors import bad_request, expired, not_found
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.selectors import parse_field_selector, parse_label_selector

__all__ = ["ListQuery", "get", "list_objects", "matcher", "with_version"]

Obj = dict[str, Any]
_NO_LABELS: dict[str, str] = {}
_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of "
    "the results. Continuing with the provided token results in an inconsistent list - objects that were "
    "created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


@dataclass
class ListQuery:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_: str = ""


def with_version(info: ResourceInfo, obj: Obj) -> Obj:
    """Serve an object under the version asked for (no conversion: CRD versions share one schema here)."""
    if obj.get("apiVersion") == info.api_version:
        return obj
    return {**obj, "apiVersion": info.api_version}


def get(core: Core, info: ResourceInfo, namespace: str | None, name: str) -> Obj:
    obj = core.store.get(info, namespace or "", name)
    if obj is None:
        raise not_found(plural=info.plural, group=info.group, name=name)
    return with_version(info, obj)


def matcher(label_selector: str, field_selector: str) -> Callable[[Obj], bool]:
    """A predicate for both selectors; 400 BadRequest with apimachinery's message on bad syntax."""
    try:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector)
    except ValueError as exc:
        raise bad_request(f"unable to parse requirement: {exc}" if "field" not in str(exc) else str(exc)) from None
    if not label_selector and not field_selector:
        return lambda obj: True
    if not field_selector and not labels.nothing:
        # The common case (informers, kubectl -l): label requirements only, checked without the
        # selector objects' generic layers since a list calls this once per stored object.
        checks = tuple(req.matches for req in labels.requirements)
        if len(checks) == 1:
            only = checks[0]
            return lambda obj: only(obj["metadata"].get("labels") or _NO_LABELS)
        return lambda obj: all(check(obj["metadata"].get("labels") or _NO_LABELS) for check in checks)
    return lambda obj: labels.matches(obj["metadata"].get("labels") or {}) and fields.matches(obj)


def _encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                          "(version meta.k8s.io/v1)") from None


def _sorted(objs: Iterable[Obj]) -> list[tuple[str, Obj]]:
    keyed = [(f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}", o) for o in objs]
    keyed.sort(key=lambda pair: pair[0])
    return keyed


def list_objects(core: Core, info: ResourceInfo, namespace: str | None, query: ListQuery) -> Obj:
    """A `XList` with items, metadata.resourceVersion, and metadata.continue when a page was cut."""
    match = matcher(query.label_selector, query.field_selector)
    res = core.store.resources.get(info.key)
    rv = core.store.rv
    start = ""
    if query.continue_:
        token_rv, start = _decode_continue(query.continue_)
        if res is not None and token_rv < res.compacted_rv:
            raise expired(_EXPIRED_CONTINUE)
        rv = token_rv
    objs = res.iter(namespace) if res is not None else ()
    selected = [pair for pair in _sorted(o for o in objs if match(o)) if not start or pair[0] > start]
    metadata: dict[str, Any] = {"resourceVersion": str(rv)}
    if query.limit and len(selected) > query.limit:
        remaining = len(selected) - query.limit
        selected = selected[:query.limit]
        metadata["continue"] = _encode_continue(rv, selected[-1][0])
        metadata["remainingItemCount"] = remaining
    return {"apiVersion": info.api_version, "kind": info.list_kind, "metadata": metadata,
            "items": [with_version(info, obj) for _, obj in selected]}
