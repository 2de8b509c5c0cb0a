"""Finplane's own API errors: the one seam where the Kubernetes client's exceptions are mapped.

Raised by `finplane.kube.client.KubeClient`; caught by reconcilers (to set conditions) and by the
platform API (to answer 4xx problems). Nothing outside `finplane.kube` sees `ApiException`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["AlreadyExists", "Conflict", "Forbidden", "Gone", "Invalid", "KubeError", "NotFound",
           "from_status"]


class KubeError(Exception):
    """An API call failed; `status` is the HTTP code, `reason` the Status reason."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", body: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.body = body or {}
        self.verb = ""  # set by the gateway: the refused request, e.g. "patch" ...
        self.resource = ""  # ... "deployments.apps"
        self.namespace = ""
        self.retry_after: float | None = None  # seconds, from a 429's Retry-After header

    def describe_request(self) -> str:
        """ "patch deployments.apps in namespace payments" (empty when the gateway did not say)."""
        if not self.verb:
            return ""
        return f"{self.verb} {self.resource}" + (f" in namespace {self.namespace}" if self.namespace else "")

    @property
    def retryable(self) -> bool:
        """Server-side trouble (429, 5xx, connection): worth retrying with backoff."""
        return self.status in (0, 429, 500, 502, 503, 504)


class NotFound(KubeError):
    """404."""


class AlreadyExists(KubeError):
    """409 AlreadyExists on create."""


class Conflict(KubeError):
    """409 Conflict: stale resourceVersion, or a server-side apply conflict with another manager."""


class Forbidden(KubeError):
    """403: RBAC does not allow the call."""


class Gone(KubeError):
    """410: the asked resourceVersion is older than the server's history."""


class Invalid(KubeError):
    """422: the object violates its schema; `causes` lists the fields."""

    @property
    def causes(self) -> list[dict[str, Any]]:
        return list(self.body.get("details", {}).get("causes", []))


def from_status(code: int, raw: bytes | str | None) -> KubeError:
    """Build the right error from an HTTP code and a `Status` body (or whatever came back)."""
    body: dict[str, Any] = {}
    if raw:
        try:
            parsed = json.loads(raw)
            body = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            body = {"message": (raw.decode(errors="replace") if isinstance(raw, bytes) else raw)[:500]}
    reason = str(body.get("reason", ""))
    message = str(body.get("message") or f"HTTP {code}")
    cls: type[KubeError] = KubeError
    if code == 404:
        cls = NotFound
    elif code == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif code == 403:
        cls = Forbidden
    elif code == 410:
        cls = Gone
    elif code == 422:
        cls = Invalid
    return cls(message, status=code, reason=reason, body=body)
