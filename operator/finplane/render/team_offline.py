"""`finplane render` for a Team: its namespaces and their children, without a cluster.

Pure; called by `render.offline`. Offline nothing is known about other Teams; a listed namespace is rendered
as adopted when a Namespace of that name is among the documents rendered (it exists before the Team, as the
operator finds it), else as created; a reserved one (default, kube-*, Finplane's own)
is refused with the same message the operator gives.
"""

from __future__ import annotations

from typing import Any

from finplane.models.team import TeamSpec
from finplane.render.team import render_namespace, render_team
from finplane.render.team_checks import reserved_problem
from finplane.settings import Settings

__all__ = ["render_team_doc"]

Obj = dict[str, Any]


def render_team_doc(doc: Obj, settings: Settings, existing: frozenset[str] = frozenset()) -> list[Obj]:
    """The Namespaces and children of the Team in `doc`; ValueError when it lists a reserved namespace."""
    name = str((doc.get("metadata") or {}).get("name", ""))
    spec = TeamSpec.model_validate(doc.get("spec") or {})
    problems = [p for ns in spec.namespaces
                if (p := reserved_problem(ns, own_namespace=settings.pod_namespace,
                                          extra=settings.admission_protected_namespaces))]
    if problems:
        raise ValueError("NamespaceRefused: " + "; ".join(problems))
    return [*(render_namespace(name=name, namespace=ns, created=ns not in existing) for ns in spec.namespaces),
            *render_team(name=name, spec=spec, namespaces=list(spec.namespaces), settings=settings)]
