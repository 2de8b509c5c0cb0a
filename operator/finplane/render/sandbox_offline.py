"""`finplane render` for a TenantSandbox: the same checks and children as the operator, no credential.

Pure; called by `finplane.render.offline`. Refuses what the reconciler would refuse (TTL above the
platform maximum, a reserved namespace) with the same reasons. The partner credential Secret is
generated only by the operator, so it never appears here, not even as a placeholder value.
"""

from __future__ import annotations

from typing import Any

from finplane.models.tenant_sandbox import TenantSandboxSpec
from finplane.render.sandbox import namespace_problem, render_sandbox, sandbox_namespace
from finplane.render.sandbox_lifecycle import lifetime_problem, parse_time, timeline
from finplane.settings import Settings

__all__ = ["render_sandbox_doc"]

Obj = dict[str, Any]


def render_sandbox_doc(doc: Obj, settings: Settings) -> list[Obj]:
    meta = doc.get("metadata") or {}
    name = meta.get("name", "")
    spec = TenantSandboxSpec.model_validate(doc.get("spec") or {})
    tl = timeline(spec, created=parse_time(meta.get("creationTimestamp")), settings=settings)
    problem = lifetime_problem(tl, settings)
    if problem:
        raise ValueError(f"TTLTooLong: {problem}")
    problem = namespace_problem(sandbox_namespace(name, settings))
    if problem:
        raise ValueError(f"NamespaceConflict: {problem}")
    return render_sandbox(name=name, spec=spec, settings=settings)
