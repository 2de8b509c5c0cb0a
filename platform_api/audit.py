"""The audit log: one JSON line per change attempted through the API (who, what, when, where, result).

Written by the audit middleware in :mod:`platform_api.app` for every non-read request, denied
and failed ones included. Services add what they changed (kind, namespace, name, action) through
:func:`note`. Lines never contain a token, a credential or a request body.

Every attempt by an authenticated caller is also appended to the compliance engine's hash-chained
evidence record (``finplane.policy.evidence.open_chain``: the shared file, locked on append so the API and
the operator extend one chain, or with ``FINPLANE_EVIDENCE_WRITER`` this replica's own chain beside the
others) as an ``api-change`` entry; unauthenticated attempts
stay in the audit log only, so that nobody without a token can grow the evidence.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request

from finplane.policy.evidence import LOG_NAME, EvidenceLog, open_chain
from finplane.policy.evidence_keys import Signer

__all__ = ["AuditLog", "evidence_event", "note"]

log = logging.getLogger("finplane.audit")


def note(request: Request, **fields: Any) -> None:
    """Attach what a handler did (e.g. ``action="approve", kind=..., name=...``) to the audit entry."""
    entry: dict[str, Any] = request.scope.setdefault("finplane.audit", {})
    entry.update(fields)


def evidence_event(entry: dict[str, Any]) -> dict[str, Any]:
    """The evidence-chain form of an audit entry: flat fields the export's CSV columns can show."""
    actor = entry.get("actor") or {}
    kind, name = entry.get("kind"), entry.get("name")
    scope = entry.get("namespace") or (entry.get("team") if kind == "BusinessCapability" else None)
    obj = "/".join(str(p) for p in (kind, scope, name) if p) or None
    who = f"{actor.get('role')}:{actor.get('subject')}"
    source = (entry.get("source") or {}).get("ip")
    event: dict[str, Any] = {
        "type": "api-change", "action": entry.get("action") or entry.get("method"), "object": obj,
        "team": entry.get("team") or actor.get("team"), "actor": actor.get("subject"), "role": actor.get("role"),
        "partner": actor.get("partner"), "method": entry.get("method"), "path": entry.get("path"),
        "source": source, "status": entry.get("status"), "result": entry.get("result"),
        "message": f"{entry.get('action') or entry.get('method')} {obj or entry.get('path')} by {who} "
                   f"from {source}: {entry.get('status')} {entry.get('result')}",
    }
    for extra in ("rule", "waiver", "policy"):
        if entry.get(extra) is not None:
            event[extra] = entry[extra]
    return event


class AuditLog:
    """Appends entries to a JSON-lines file (and the ``finplane.audit`` logger), and to the evidence chain."""

    def __init__(self, path: Path | None, *, evidence_dir: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._evidence_path = evidence_dir / LOG_NAME if evidence_dir is not None else None
        self._evidence: EvidenceLog | None = None  # opened on the first change: reading the chain costs
        self.signer: Signer | None = None  # the shared Secret's key (set in the app's lifespan), else the key file's
        self._evidence_lock = threading.Lock()

    def ready(self) -> None:
        """Raise (OSError, EvidenceCorrupt) unless a change's evidence could be chained now; called before it."""
        if self._evidence_path is None:
            return
        with self._evidence_lock:
            if self._evidence is None:
                self._evidence = open_chain(self._evidence_path.parent, signer=self.signer)
            self._evidence.check()

    def chain(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Append an authenticated attempt to the evidence chain (blocking: file lock and fsync)."""
        if self._evidence_path is None or entry.get("actor") is None:
            return None
        with self._evidence_lock:  # EvidenceLog keeps head and seq in memory: one appender at a time
            if self._evidence is None:
                self._evidence = open_chain(self._evidence_path.parent, signer=self.signer)
            return self._evidence.append(evidence_event(entry))

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
