"""Text hygiene of request bodies: control, format (bidi, zero-width) and surrogate characters are refused.

:func:`check_body_text` is called by the ``current_identity`` dependency (:mod:`platform_api.deps`) once
the caller is authenticated, for every request with a JSON body, so every name and free-text field of
every route (descriptions, partner details, justifications, comments, config values, keys included)
is covered without each schema repeating it. A refusal is a 422 naming the field
(``body.spec.description``), like any validation error. Tab, line feed and carriage return stay
allowed: multi-line text is legitimate and the audit log escapes them.

:data:`Timestamp` is the request-body type of RFC 3339 times: a time that cannot be converted to UTC
(year 9999 with a negative offset) or has no zone is a 422, not an ``OverflowError`` in a service.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator
from starlette.requests import Request

from platform_api.middleware.json_depth import is_json_content_type
from platform_api.problems import Problem

__all__ = ["Timestamp", "check_body_text", "check_timestamp", "forbidden_text"]

_ALLOWED_CONTROLS = frozenset("\t\n\r")
_REFUSED = {"Cc": "a control character", "Cf": "a format character (bidirectional or zero-width)",
            "Cs": "a lone surrogate"}
_MAX_ERRORS = 20


def _first_refused(text: str) -> str | None:
    if text.isprintable():  # C speed: the common case has no Other/Separator character at all
        return None
    for ch in text:
        category = unicodedata.category(ch)
        if category in _REFUSED and ch not in _ALLOWED_CONTROLS:
            return f"contains U+{ord(ch):04X}, {_REFUSED[category]}, which is not allowed in names or text"
    return None


def forbidden_text(value: Any, *, root: str = "body") -> list[dict[str, str]]:
    """``{field, message}`` for every string (or key) in ``value`` with a refused character (at most 20)."""
    errors: list[dict[str, str]] = []
    stack: list[tuple[str, Any]] = [(root, value)]
    while stack and len(errors) < _MAX_ERRORS:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = _first_refused(item)
            if problem is not None:
                errors.append({"field": path, "message": problem})
        elif isinstance(item, dict):
            for key, child in item.items():
                key_problem = _first_refused(str(key))
                if key_problem is not None:
                    errors.append({"field": f"{path}.{key!r}", "message": f"the key {key_problem}"})
                    continue
                stack.append((f"{path}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}", child) for i, child in enumerate(item))
    return sorted(errors, key=lambda e: e["field"])


async def check_body_text(request: Request) -> None:
    """Raise a 422 problem when the request's JSON body carries a refused character anywhere."""
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    if not is_json_content_type(request.headers.get("content-type", "").encode("latin-1") or None):
        return
    raw = await request.body()  # FastAPI has read it already (cached); at most the body limit
    if not raw:
        return
    try:
        body = await request.json()  # parsed by FastAPI already (cached), never deeper than the depth limit
    except (ValueError, UnicodeError):
        return  # not JSON: the route's own validation answers (422)
    errors = forbidden_text(body)
    if errors:
        raise Problem(422, "The request contains characters that are not allowed; see errors.", slug="validation",
                      reason="ForbiddenCharacter", errors=errors)


def check_timestamp(value: str) -> str:
    """``value`` when it is an RFC 3339 time with a zone that converts to UTC; ``ValueError`` otherwise."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("not an RFC 3339 time") from None
    if when.tzinfo is None:
        raise ValueError("an RFC 3339 time needs a time zone (Z or ±hh:mm)")
    try:
        when.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None
    return value


Timestamp = Annotated[str, AfterValidator(check_timestamp)]
"""A request-body RFC 3339 time (with a zone, convertible to UTC); the string is kept as given."""
