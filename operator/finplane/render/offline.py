"""The children the operator would create for a list of Finplane CRs, with no cluster (`finplane render`).

Pure; uses the same render functions as the reconcilers. Called by `finplane.commands.render`, which
reads and prints the YAML. Secrets (credentials) are never rendered here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.common import describe_errors
from finplane.render.capability import render_capability
from finplane.render.capability_checks import check_capability
from finplane.render.slo import render_slo
from finplane.settings import Settings, get_settings

__all__ = ["RENDERERS", "render_documents"]

Obj = dict[str, Any]


def _capability(doc: Obj, settings: Settings) -> list[Obj]:
    meta = doc.get("metadata") or {}
    name, ns = meta.get("name", ""), meta.get("namespace") or "default"
    spec = BusinessCapabilitySpec.model_validate(doc.get("spec") or {})
    problems = check_capability(name=name, namespace=ns, spec=spec, graph={})
    if problems:
        raise ValueError("; ".join(f"{p.reason}: {p.message}" for p in problems))
    slo = render_slo(name=name, namespace=ns, spec=spec, settings=settings)  # written only when served (docs/slo.md)
    return render_capability(name=name, namespace=ns, spec=spec, settings=settings) + slo


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
    for doc in docs:
        if not doc or doc.get("kind") not in RENDERERS:
            continue
        try:
            out.extend(RENDERERS[doc["kind"]](doc, settings))
        except ValidationError as exc:
            where = f"{doc['kind']} {(doc.get('metadata') or {}).get('name', '?')}"
            errors = describe_errors(exc)
            raise ValueError(f"{where}: {errors}") from None
    return out
