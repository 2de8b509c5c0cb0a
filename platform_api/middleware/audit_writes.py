"""Records every change (any method but GET, HEAD and OPTIONS) in the audit log and the evidence chain.

Installed by :func:`platform_api.app.create_app` innermost, just outside routing, so the entry has the
route template and the identity the ``current_identity`` dependency put in the scope. A change whose
evidence cannot be recorded is not made: when the evidence log is unavailable or corrupt the answer is
503 before routing. Reads pass straight through (a pure ASGI middleware, no per-request task or stream:
issue 19 measured Starlette's ``BaseHTTPMiddleware`` at half of a cheap request's CPU).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_api.audit import AuditLog
from platform_api.middleware._asgi import answer
from platform_api.problems import Problem

__all__ = ["AuditWrites"]

READS = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger("finplane.api")


class AuditWrites:
    """Refuses a change whose evidence cannot be recorded; records every change with its final status."""

    def __init__(self, app: ASGIApp, *, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:  # a change whose evidence cannot be recorded is not made (EvidenceCorrupt is a ValueError)
            await asyncio.to_thread(self.audit.ready)
        except (OSError, ValueError) as exc:
            log.error("refusing a change: the evidence log cannot be appended to: %s", exc)
            self.audit.record(request=request, status=503, identity=None)
            await answer(scope, receive, send, Problem(
                503, "The change was not made: its evidence cannot be recorded (the evidence log is unavailable "
                     "or corrupt).", slug="evidence-unavailable", reason="EvidenceUnavailable",
                headers={"Retry-After": "30"}))
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            entry = self.audit.record(request=request, status=status, identity=scope.get("finplane.identity"))
            try:
                await asyncio.to_thread(self.audit.chain, entry)
            except (OSError, ValueError):
                # Only if the log broke between the check above and now: the change stands, in the audit log.
                log.exception("could not append the change to the evidence chain")
