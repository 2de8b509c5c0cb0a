"""`Status` error bodies shaped exactly like the kube-apiserver's, raised as `ApiError`.

Every handler of the embedded API server raises these; the HTTP layer turns them into the
JSON `Status` object with the same `reason`, `code`, `message` and `details` a real server
sends, because clients (kopf, the official client, kubectl) branch on those.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "gone",
    "invalid",
    "method_not_allowed",
    "not_found",
    "status_body",
    "unsupported_media_type",
]


def status_body(*, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure" if code >= 400 else "Success",
                            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """An error answered as a `Status` object with an HTTP code."""

    def __init__(self, code: int, reason: str, message: str, *, details: dict[str, Any] | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.body = body or status_body(code=code, reason=reason, message=message, details=details)


def _details(name: str, plural: str, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(*, plural: str, group: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(plural, group)} "{name}" not found',
                    details=_details(name, plural, group))


def already_exists(*, plural: str, group: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(plural, group)} "{name}" already exists',
                    details=_details(name, plural, group))


def conflict(*, plural: str, group: str, name: str, why: str | None = None) -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}',
                    details=_details(name, plural, group))


def forbidden(*, plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(403, "Forbidden", f'{_qualified(plural, group)} "{name}" is forbidden: {why}',
                    details=_details(name, plural, group))


def invalid(*, kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid; causes are (reason type, field path, message), e.g. ('FieldValueRequired', 'metadata.name', ...)."""
    text = "; ".join(f"{f}: {m}" if f else m for _, f, m in causes)
    details = {"name": name, "kind": kind, "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes]}
    if group:
        details["group"] = group
    qualified = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                    f"accepted media types include: application/json-patch+json, application/merge-patch+json, "
                    f"application/apply-patch+yaml; got {content_type}")


def gone(message: str) -> ApiError:
    return ApiError(410, "Gone", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
