"""The audit log: one JSON line per change attempted through the API (who, what, when, where, result).

Written by the audit middleware in :mod:`platform_api.app` for every non-read request, denied
and failed ones included. Services add what they changed (kind, namespace, name, action) through
:func:`note`. Lines never contain a token, a credential or a request body.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request

__all__ = ["AuditLog", "note"]

log = logging.getLogger("finplane.audit")


def note(request: Request, **fields: Any) -> None:
    """Attach what a handler did (e.g. ``action="approve", kind=..., name=...``) to the audit entry."""
    entry: dict[str, Any] = request.scope.setdefault("finplane.audit", {})
    entry.update(fields)


class AuditLog:
    """Appends entries to a JSON-lines file (and the ``finplane.audit`` logger)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, *, request: Request, status: int, identity: Any = None) -> dict[str, Any]:
        route = request.scope.get("route")
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "actor": identity.describe() if identity is not None else None,
            "method": request.method,
            "route": getattr(route, "path", None),
            "path": request.url.path,
            "source": {"ip": request.client.host if request.client else None,
                       "userAgent": request.headers.get("user-agent")},
            "status": status,
            "result": "success" if status < 400 else ("denied" if status in (401, 403, 404) else "failure"),
        }
        entry.update(request.scope.get("finplane.audit", {}))
        line = json.dumps(entry, separators=(",", ":"), default=str)
        if self.path is not None:
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        log.info(line)
        return entry
