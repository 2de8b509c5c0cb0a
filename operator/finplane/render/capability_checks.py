"""Checks on a BusinessCapability that its schema cannot express, each with a CamelCase reason.

Pure; called by the capability reconciler before anything is applied (so a bad spec leaves the
running children untouched) and by `finplane render`.
"""

from __future__ import annotations

from dataclasses import dataclass

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.render.image import parse_image
from finplane.render.quantity import parse_quantity

__all__ = ["Problem", "check_capability", "find_cycle"]

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str
    message: str


def find_cycle(start: Key, graph: dict[Key, list[Key]]) -> list[Key] | None:
    """A dependency path that leads from `start` back to `start`, if any (iterative DFS)."""
    stack: list[tuple[Key, list[Key]]] = [(start, [start])]
    seen: set[Key] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, []):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def check_capability(*, name: str, namespace: str, spec: BusinessCapabilitySpec,
                     graph: dict[Key, list[Key]]) -> list[Problem]:
    """Every problem found (empty when the spec can be rendered). `graph` maps capabilities to their deps."""
    problems: list[Problem] = []
    try:
        parse_image(spec.image)
    except ValueError as exc:
        problems.append(Problem("InvalidImage", f"{exc}; fix spec.image"))
    if spec.port < 1024:
        problems.append(Problem("PrivilegedPort", f"spec.port {spec.port} is below 1024: pods run as non-root "
                                                  "without NET_BIND_SERVICE (restricted profile); use a port >= 1024"))
    me = (namespace, name)
    deps = [(d.namespace or namespace, d.name) for d in spec.dependencies]
    if me in deps:
        problems.append(Problem("SelfDependency", "spec.dependencies names the capability itself; remove it"))
    elif len(set(deps)) != len(deps):
        problems.append(Problem("DuplicateDependency", "spec.dependencies lists a capability twice"))
    else:
        cycle = find_cycle(me, {**graph, me: deps})
        if cycle:
            problems.append(Problem("DependencyCycle", "dependency cycle: " + " -> ".join(
                f"{ns}/{n}" for ns, n in cycle) + "; break it by removing one dependency"))
    problems.extend(_check_resources(spec))
    return problems


def _check_resources(spec: BusinessCapabilitySpec) -> list[Problem]:
    r = spec.resources
    if not r:
        return []
    out: list[Problem] = []
    for res in ("cpu", "memory"):
        req = getattr(r.requests, res) if r.requests else None
        lim = getattr(r.limits, res) if r.limits else None
        try:
            # Each quantity on its own: a lone negative request would reach the Deployment, which the
            # API server refuses, and the capability would retry forever without saying why.
            negative = [f"{part}.{res} ({q})" for part, q in (("requests", req), ("limits", lim))
                        if q is not None and parse_quantity(q) < 0]
            if negative:
                out.append(Problem("NegativeQuantity", f"spec.resources.{', '.join(negative)} must not be negative"))
            elif req is not None and lim is not None and parse_quantity(lim) < parse_quantity(req):
                out.append(Problem("LimitsBelowRequests",
                                   f"spec.resources.limits.{res} ({lim}) is below requests.{res} ({req}); "
                                   "raise the limit or lower the request"))
        except ValueError as exc:
            out.append(Problem("InvalidQuantity", str(exc)))
    return out
