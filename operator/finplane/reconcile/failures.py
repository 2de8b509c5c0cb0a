"""Surface a reconcile that the API server keeps refusing with 403 (RBAC revoked) in the object's status.

Called by `reconcile.runtime` when a reconciler raises `Forbidden`. The queue keeps retrying with
its capped exponential backoff (RBAC may be granted again, and then the object heals by itself),
but after `Settings.forbidden_report_after` refused attempts the user sees why nothing happens:
Ready=False with reason Forbidden naming the verb and resource, plus one Warning event
(`status_write` posts it). Without this a 403 only shows up in the operator's log.

`namespace_going` tells apart the refusals that only mean "the object's namespace is being deleted"
(404 for the namespace, 403 "being terminated"): nothing to report or retry, the object goes too.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from finplane.kube.errors import Forbidden, KubeError, NotFound
from finplane.reconcile.status_write import write_status
from finplane.status.conditions import Cond
from finplane.status.vocabulary import ConditionType, Reason

if TYPE_CHECKING:
    from finplane.reconcile.runtime import Key, Runtime

__all__ = ["namespace_going", "report_forbidden"]

log = logging.getLogger("finplane.failures")


async def report_forbidden(rt: Runtime, kind: str, key: Key, exc: Forbidden, *, attempt: int) -> bool:
    """Write Ready=False/Forbidden once `attempt` reaches the threshold; returns whether it reported."""
    if attempt < rt.settings.forbidden_report_after:
        return False
    body = rt.get(kind, key)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return False
    what = exc.describe_request() or "a request"
    message = (f"the API server refused to {what} (403 Forbidden; retrying with backoff): "
               f"{exc.message}. Grant the operator's ServiceAccount this permission.")
    try:
        wrote = await write_status(rt.kube, body, conditions=[Cond(ConditionType.READY, "False", Reason.FORBIDDEN, message)], fields={})
    except KubeError as status_exc:  # the status itself may be refused too: the log and metrics still say it
        log.warning("Cannot report Forbidden on %s %s: %s", kind, key, status_exc)
        return False
    if wrote:
        log.warning("Forbidden: %s %s/%s: %s", kind, key[0] or "-", key[1], message)
    return wrote


def namespace_going(exc: KubeError, key: Key) -> bool:
    """The request failed only because the object's own namespace is gone or terminating."""
    ns = key[0]
    if not ns:
        return False
    details = exc.body.get("details") or {}
    if isinstance(exc, NotFound):
        return details.get("kind") == "namespaces" and details.get("name") == ns
    return isinstance(exc, Forbidden) and f"namespace {ns} because it is being terminated" in exc.message
