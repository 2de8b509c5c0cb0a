"""Checks on a BusinessCapability that its schema cannot express, each with a CamelCase reason.

Pure; called by the capability reconciler before anything is applied (so a bad spec leaves the
running children untouched) and by `finplane render`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.render.image import parse_image
from finplane.render.quantity import parse_quantity

__all__ = ["DNS1035_LABEL", "Problem", "check_capability", "find_cycle", "name_problem"]

Key = tuple[str, str]
#: What a Service name (and so a capability's name) must be: a DNS-1035 label of at most 63 characters.
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


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


def name_problem(name: str) -> Problem | None:
    """InvalidName when `name` cannot be a Service name and a label value (the CRD's CEL rule says the same;
    this catches an API server that does not evaluate it, before anything is applied)."""
    if len(name) <= 63 and DNS1035_LABEL.match(name):
        return None
    return Problem("InvalidName", f"the name {name[:80]!r} cannot be used: it becomes the name of the capability's "
                                  "Service and label values, which must be a DNS-1035 label (lower-case letters, "
                                  "digits and '-', starting with a letter, at most 63 characters); "
                                  "create the capability under a valid name")


def check_capability(*, name: str, namespace: str, spec: BusinessCapabilitySpec,
                     graph: dict[Key, list[Key]]) -> list[Problem]:
    """Every problem found (empty when the spec can be rendered). `graph` maps capabilities to their deps."""
    bad_name = name_problem(name)
    if bad_name is not None:
        return [bad_name]  # nothing else is worth saying about an object that can never be rendered
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
