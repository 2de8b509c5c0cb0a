"""The children the operator would create for a list of Finplane CRs, with no cluster (`finplane render`).

Pure; uses the same render functions as the reconcilers. Called by `finplane.commands.render`, which
reads and prints the YAML. Secrets (credentials) are never rendered here. What a capability's children
depend on beyond its own spec is taken from the other documents given, as the reconciler takes it from
its caches: the registry's pull Secret name, its dependencies' ports, the capabilities depending on it
that it admits (team of a namespace: the Teams given, else the namespaces' `finplane.io/team` label),
and the sandboxes listing it (taken as approved and provisioned, as kubectl-created ones are).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.common import describe_errors
from finplane.render.capability import CapabilityContext, render_capability
from finplane.render.capability_checks import check_capability
from finplane.render.slo import render_slo
from finplane.settings import Settings, get_settings

__all__ = ["RENDERERS", "Neighbours", "capability_context", "render_documents"]

Obj = dict[str, Any]


Key = tuple[str, str]


def _key(doc: Obj) -> Key:
    meta = doc.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name", ""))


def _deps(doc: Obj) -> list[Key]:
    ns = _key(doc)[0]
    return [(d.get("namespace") or ns, d.get("name", "")) for d in (doc.get("spec") or {}).get("dependencies") or []
            if isinstance(d, dict)]


class Neighbours:
    """What `capability_context` looks up in the other documents, indexed once per `render_documents` call.

    Looking through every document for every capability made `finplane render` of 10,000 capabilities
    quadratic (minutes; bench/render.py): this index makes each capability's context a few dictionary reads.
    """

    def __init__(self, docs: list[Obj], settings: Settings) -> None:
        from finplane.render.capability_callers import team_resolver

        def of(kind: str) -> list[Obj]:
            return [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]

        self.caps = {_key(c): c for c in of("BusinessCapability")}
        self.callers: dict[Key, set[Key]] = {}
        for k, c in self.caps.items():
            for dep in _deps(c):
                self.callers.setdefault(dep, set()).add(k)
        teams = [{**t, "status": {"namespaces": [{"name": n, "state": "Created"}  # offline: as if provisioned
                                                 for n in (t.get("spec") or {}).get("namespaces") or []]}}
                 for t in of("Team")]
        namespaces = {("", (n.get("metadata") or {}).get("name", "")): n for n in of("Namespace")}
        self.team_of = team_resolver(teams=teams, namespaces=namespaces, migrate=settings.team_ownership == "migrate")
        self.sandboxes: dict[Key, list[Obj]] = {}
        for sandbox in of("TenantSandbox"):
            for c in (sandbox.get("spec") or {}).get("allowedCapabilities") or []:
                self.sandboxes.setdefault((c.get("namespace", ""), c.get("name", "")), []).append(sandbox)
        self.registries: dict[str, Obj] = {}
        for registry in of("ImageRegistry"):
            self.registries.setdefault((registry.get("metadata") or {}).get("name", ""), registry)


def capability_context(doc: Obj, docs: list[Obj], settings: Settings,
                       neighbours: Neighbours | None = None) -> CapabilityContext:
    """What the reconciler would gather from its caches about `doc`'s neighbours, from `docs` instead."""
    from finplane.render.capability_callers import admits_caller, admits_sandboxes
    from finplane.render.registry import pull_secret_name
    from finplane.render.sandbox import sandbox_namespace

    n = neighbours or Neighbours(docs, settings)
    key, spec = _key(doc), BusinessCapabilitySpec.model_validate(doc.get("spec") or {})
    ports = {k: int((n.caps[k].get("spec") or {}).get("port") or 8080) for k in _deps(doc) if k in n.caps}
    dependents = tuple(sorted(k for k in n.callers.get(key, ())
                              if admits_caller(callee=key, spec=spec, caller=k, team_of=n.team_of)))
    sandboxes: tuple[str, ...] = ()
    if admits_sandboxes(spec):
        listed = {id(s): s for s in n.sandboxes.get(key, [])}.values()  # a sandbox listing it twice counts once
        sandboxes = tuple(sorted(sandbox_namespace((s.get("metadata") or {}).get("name", ""), settings)
                                 for s in listed))
    pull = None
    if spec.registry_ref:
        registry = n.registries.get(spec.registry_ref)
        pull = pull_secret_name(spec.registry_ref, ((registry or {}).get("spec") or {}).get("secretName"))
    return CapabilityContext(dependents=dependents, dependency_ports=ports, sandbox_namespaces=sandboxes,
                             pull_secret=pull)


def _capability(doc: Obj, settings: Settings, docs: list[Obj] | None = None,
                neighbours: Neighbours | None = None) -> list[Obj]:
    name, ns = _key(doc)[1], _key(doc)[0]
    spec = BusinessCapabilitySpec.model_validate(doc.get("spec") or {})
    problems = check_capability(name=name, namespace=ns, spec=spec, graph={})
    if problems:
        raise ValueError("; ".join(f"{p.reason}: {p.message}" for p in problems))
    slo = render_slo(name=name, namespace=ns, spec=spec, settings=settings)  # written only when served (docs/slo.md)
    return render_capability(name=name, namespace=ns, spec=spec, settings=settings,
                             ctx=capability_context(doc, docs or [doc], settings, neighbours)) + slo


def _sandbox(doc: Obj, settings: Settings) -> list[Obj]:
    from finplane.render.sandbox_offline import render_sandbox_doc  # the credential Secret is never rendered

    return render_sandbox_doc(doc, settings)


def _registry(doc: Obj, settings: Settings) -> list[Obj]:
    from finplane.render.registry import render_registry_doc  # credentials are shown as REDACTED

    return render_registry_doc(doc)


def _channel(doc: Obj, settings: Settings) -> list[Obj]:
    # Offline there is no capability store: every routed capability is taken to listen on 8080.
    from finplane.models.channel import ChannelSpec
    from finplane.render.channel import render_channel

    spec = ChannelSpec.model_validate(doc.get("spec") or {})
    return render_channel(channel=(doc.get("metadata") or {}).get("name", ""), spec=spec, ports={},
                          settings=settings)


def _team(doc: Obj, settings: Settings) -> list[Obj]:
    # Offline there is no cluster: every listed namespace that may be a team's is shown as created.
    from finplane.render.team_offline import render_team_doc

    return render_team_doc(doc, settings)


RENDERERS: dict[str, Callable[[Obj, Settings], list[Obj]]] = {"Channel": _channel, "BusinessCapability": _capability,
                                                               "TenantSandbox": _sandbox,
                                                               "ImageRegistry": _registry, "Team": _team}


def render_documents(docs: list[Obj], *, settings: Settings | None = None) -> list[Obj]:
    """Children of every Finplane CR in `docs`; ValueError naming the object on bad input."""
    settings = settings or get_settings()
    out: list[Obj] = []
    neighbours: Neighbours | None = None  # built at the first capability, once
    existing: frozenset[str] | None = None
    for doc in docs:
        if not doc or doc.get("kind") not in RENDERERS:
            continue
        try:
            if doc["kind"] == "BusinessCapability":
                neighbours = neighbours or Neighbours(docs, settings)
                out.extend(_capability(doc, settings, docs, neighbours))
            elif doc["kind"] == "Team":
                from finplane.render.team_offline import render_team_doc

                if existing is None:
                    existing = frozenset(str((d.get("metadata") or {}).get("name")) for d in docs
                                         if d and d.get("kind") == "Namespace")
                out.extend(render_team_doc(doc, settings, existing=existing))
            else:
                out.extend(RENDERERS[doc["kind"]](doc, settings))
        except ValidationError as exc:
            where = f"{doc['kind']} {(doc.get('metadata') or {}).get('name', '?')}"
            errors = describe_errors(exc)
            raise ValueError(f"{where}: {errors}") from None
    return out
