"""The channel reconciler's pure helpers: lenient per-route parsing and the last good rendering of each route.

Called by `reconcile.channel`. Parsing is per route so that one invalid route (for example a
canary weight above 100 sent to an API server without schema validation) fails alone. The last
good rendering of every route is kept in memory and, after a restart, rebuilt from the live
children (they carry the channel-route label), so a route that turns bad keeps serving.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from finplane.models.channel import ChannelSpec, Route
from finplane.names import HASH_ANNOTATION
from finplane.reconcile.children import child_id, stamp
from finplane.render.channel import ROUTE_LABEL
from finplane.render.gateway import PartnerAccess

__all__ = ["LastGood", "ParsedChannel", "backends_of", "parse_channel", "recover_last_good", "with_current_keys"]

Obj = dict[str, Any]
Key = tuple[str, str]
_PLACEHOLDER = {"name": "placeholder", "capability": {"namespace": "placeholder", "name": "placeholder"}}


@dataclass
class ParsedChannel:
    """A channel spec with its valid routes, the invalid ones by name, or a fatal error."""

    spec: ChannelSpec | None
    order: list[str] = field(default_factory=list)  # every route name, valid or not, in spec order
    invalid: dict[str, tuple[str, str]] = field(default_factory=dict)  # route -> (reason, message)
    fatal: str | None = None


@dataclass
class LastGood:
    """The children of a route's last successful rendering (already stamped) and the capabilities it routes to."""

    children: list[Obj]
    backends: frozenset[Key]
    urls: tuple[str, ...] = ()


def _message(errors: list[Any]) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])


def parse_channel(raw: Obj) -> ParsedChannel:
    """Parse `spec`; errors confined to single routes make only those routes invalid."""
    routes_raw: list[Any] = raw["routes"] if isinstance(raw.get("routes"), list) else []
    order = [str((r or {}).get("name") or f"#{i}") if isinstance(r, dict) else f"#{i}"
             for i, r in enumerate(routes_raw)]
    try:
        return ParsedChannel(ChannelSpec.model_validate(raw), order)
    except ValidationError as exc:
        errors = exc.errors()
    per_route: dict[int, list[Any]] = {}
    for e in errors:
        loc = e["loc"]
        if len(loc) >= 2 and loc[0] == "routes" and isinstance(loc[1], int):
            per_route.setdefault(loc[1], []).append(e)
        else:
            return ParsedChannel(None, order, fatal=_message(errors))
    good = [r for i, r in enumerate(routes_raw) if i not in per_route]
    try:
        spec = ChannelSpec.model_validate({**raw, "routes": good or [_PLACEHOLDER]})
    except ValidationError as exc:
        return ParsedChannel(None, order, fatal=_message(exc.errors()))
    if not good:
        spec = spec.model_copy(update={"routes": []})
    invalid = {}
    for i, errs in per_route.items():
        weight = any("canary" in e["loc"] and "weight" in e["loc"] for e in errs)
        reason = "CanaryWeightInvalid" if weight else "InvalidRoute"
        invalid[order[i]] = (reason, "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                               for e in errs[:5]))
    return ParsedChannel(spec, order, invalid)


def backends_of(route: Route) -> frozenset[Key]:
    refs = [route.capability] + ([route.canary.capability] if route.canary else [])
    return frozenset((r.namespace, r.name) for r in refs)


def _as_desired(live: Obj) -> Obj:
    """The applied shape of a live child: what Finplane wrote, without server-set fields."""
    meta = live.get("metadata") or {}
    kept = {k: meta[k] for k in ("name", "namespace", "labels", "annotations", "ownerReferences") if k in meta}
    out: Obj = {"apiVersion": live["apiVersion"], "kind": live["kind"], "metadata": kept}
    if live["kind"] == "Secret":  # a route's partner-keys Secret: its data, never an empty spec
        out.update({k: live[k] for k in ("type", "data") if k in live})
    else:
        out["spec"] = live.get("spec") or {}
    return out


def _urls_of(children: list[Obj], scheme: str) -> tuple[str, ...]:
    """The public URLs a route's live Ingress or HTTPRoute serves (host names times path prefix)."""
    urls: list[str] = []
    for c in children:
        spec = c.get("spec") or {}
        if c["kind"] == "Ingress":
            pairs = [(r.get("host", ""), p.get("path", "/")) for r in spec.get("rules") or []
                     for p in (r.get("http") or {}).get("paths") or []]
        elif c["kind"] == "HTTPRoute":
            paths = [m.get("path", {}).get("value", "/") for rule in spec.get("rules") or []
                     for m in rule.get("matches") or []]
            pairs = [(h, paths[-1] if paths else "/") for h in spec.get("hostnames") or []]
        else:
            continue
        for host, path in pairs:
            if f"{scheme}://{host}{path}" not in urls:
                urls.append(f"{scheme}://{host}{path}")
    return tuple(urls)


def recover_last_good(live_children: list[Obj], *, scheme: str = "https") -> dict[str, LastGood]:
    """Rebuild the last good rendering of each route from the channel's live children (after a restart).

    `scheme` comes from the current spec (an HTTPRoute does not say whether its listener has TLS).
    """
    by_route: dict[str, list[Obj]] = {}
    for obj in sorted(live_children, key=child_id):
        route = ((obj.get("metadata") or {}).get("labels") or {}).get(ROUTE_LABEL)
        if route:
            by_route.setdefault(route, []).append(_as_desired(obj))
    out = {}
    for route, children in by_route.items():
        backends: set[Key] = set()
        for c in children:
            ns = c["metadata"].get("namespace", "")
            cap = (c["metadata"].get("labels") or {}).get("finplane.io/capability")
            if cap:
                backends.add((ns, cap))
            for expr in ((c.get("spec") or {}).get("podSelector") or {}).get("matchExpressions") or []:
                backends.update((ns, v) for v in expr.get("values") or [])
        out[route] = LastGood(children, frozenset(backends), _urls_of(children, scheme))
    return out


def with_current_keys(children: list[Obj], partners: list[PartnerAccess], backends: frozenset[Key],
                      owner: Obj) -> list[Obj]:
    """A remembered rendering whose partner-keys Secret holds the keys of today's active partners only."""
    out: list[Obj] = []
    for child in children:
        if child["kind"] != "Secret":
            out.append(child)
            continue
        fresh = {**child, "metadata": {**child["metadata"], "annotations": {
            k: v for k, v in (child["metadata"].get("annotations") or {}).items() if k != HASH_ANNOTATION}}}
        fresh.pop("data", None)
        data = {p.client_id: base64.b64encode(p.key.encode()).decode() for p in partners
                if p.key is not None and backends <= p.capabilities}
        if data:
            fresh["data"] = data
        out.append(stamp(fresh, owner))
    return out
