"""Helpers shared by the services: ETags, If-Match, conditions, spec validation, write-through.

Called by the service modules only.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ValidationError

from finplane.kube import errors as kerr
from platform_api.cache import ReadCache
from platform_api.problems import Problem
from platform_api.state import Writer

__all__ = ["check_if_match", "condition", "etag", "is_true", "replace_annotations", "validate_spec"]

Obj = dict[str, Any]


def etag(obj: Obj) -> str:
    """The ETag of an object: its resourceVersion, quoted (RFC 9110 strong validator)."""
    return f'"{obj.get("metadata", {}).get("resourceVersion", "")}"'


def _strip(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"')


def check_if_match(if_match: str | None, obj: Obj) -> str | None:
    """412 with the current version when ``If-Match`` names another version; returns the asked one."""
    if if_match is None:
        return None
    current = str(obj.get("metadata", {}).get("resourceVersion", ""))
    candidates = [_strip(t) for t in if_match.split(",")]
    if "*" in candidates or current in candidates:
        return current
    raise stale(current)


def stale(current: str) -> Problem:
    return Problem(412, "The object has changed since you read it (If-Match does not match); "
                   "read it again and retry with the current ETag.", slug="precondition-failed",
                   reason="StaleVersion", headers={"ETag": f'"{current}"'}, extra={"currentVersion": current})


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def is_true(obj: Obj, kind: str) -> bool | None:
    """True/False from a condition; None while the operator has not said (Unknown or absent)."""
    cond = condition(obj, kind)
    if cond is None or cond.get("status") not in ("True", "False"):
        return None
    return bool(cond.get("status") == "True")


def validate_spec(model: type[BaseModel], spec: Obj, *, prefix: str = "spec") -> Obj:
    """Validate ``spec`` with the kind's pydantic model so bad input is a 422 with field errors.

    The CRD schema in the cluster checks again; this answers earlier and with the same words.
    """
    try:
        model.model_validate(spec)
    except ValidationError as exc:
        errors = [{"field": ".".join([prefix, *(str(p) for p in e["loc"])]), "message": e["msg"]}
                  for e in exc.errors()]
        raise Problem(422, "The spec is not valid; see errors.", slug="validation", reason="ValidationFailed",
                      errors=errors) from None
    return spec


async def replace_annotations(*, writer: Writer, cache: ReadCache, obj: Obj, set_: dict[str, str | None],
                              expected_version: str | None = None) -> Obj:
    """PUT the object with annotations changed, guarded by its resourceVersion (412 when stale).

    Used for state transitions (approve, reject, credential shown) so that two racing callers
    cannot both win: the loser's version is stale and the API server refuses it.
    """
    body = copy.deepcopy(obj)
    meta = body.setdefault("metadata", {})
    if expected_version is not None:
        meta["resourceVersion"] = expected_version
    annotations = meta.setdefault("annotations", {})
    for key, value in set_.items():
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
    body.pop("status", None)
    try:
        written = await writer.replace(body)
    except kerr.Conflict:
        raise stale(obj.get("metadata", {}).get("resourceVersion", "")) from None
    cache.observe(written)
    return written
