"""The children the operator renders for one capability, as YAML, for the capability page.

Called by :mod:`platform_api.portal.pages_capability`. The rendering is the pure
:func:`finplane.render.offline.render_documents`, the one `finplane render` prints, fed from the API's
read cache instead of files: the capability, its Teams, the capabilities it depends on and those that
depend on it, and the sandboxes (taken as approved, as `finplane render` takes them). ImageRegistries are not in the API's cache, so the pull Secret shows
under its default name (a registry with its own ``secretName`` differs there). Secrets are never rendered.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.models.common import describe_errors
from finplane.render.capability import render_capability
from finplane.render.capability_checks import check_capability
from finplane.render.offline import capability_context
from finplane.render.slo import render_slo
from finplane.settings import get_settings
from platform_api.cache import CAPABILITY, SANDBOX, TEAM, ReadCache

__all__ = ["rendered_children"]

Obj = dict[str, Any]


def _refs(obj: Obj) -> set[tuple[str, str]]:
    ns = str((obj.get("metadata") or {}).get("namespace") or "")
    return {(str(d.get("namespace") or ns), str(d.get("name") or ""))
            for d in (obj.get("spec") or {}).get("dependencies") or [] if isinstance(d, dict)}


def rendered_children(cache: ReadCache, obj: Obj) -> tuple[str, str | None]:
    """(the YAML of the capability's children, None), or ("", why its spec renders nothing)."""
    meta = obj.get("metadata") or {}
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    deps = _refs(obj)
    neighbours = [{**c, "kind": "BusinessCapability"} for c in cache.list(CAPABILITY)
                  if (c["metadata"].get("namespace"), c["metadata"].get("name")) in deps or (ns, name) in _refs(c)]
    doc = {**obj, "kind": "BusinessCapability"}
    docs = [doc, *neighbours, *({**t, "kind": "Team"} for t in cache.list(TEAM)),
            *({**s, "kind": "TenantSandbox"} for s in cache.list(SANDBOX))]
    settings = get_settings()
    try:
        spec = BusinessCapabilitySpec.model_validate(obj.get("spec") or {})
        problems = check_capability(name=name, namespace=ns, spec=spec, graph={})
        if problems:
            return "", "; ".join(f"{p.reason}: {p.message}" for p in problems)
        children = render_capability(name=name, namespace=ns, spec=spec, settings=settings,
                                     ctx=capability_context(doc, docs, settings))
        children += render_slo(name=name, namespace=ns, spec=spec, settings=settings)
    except ValidationError as exc:
        return "", describe_errors(exc)
    except ValueError as exc:
        return "", str(exc)
    return yaml.safe_dump_all(children, sort_keys=False), None
