"""The catalog: every capability's public summary, searchable, with its dependency graph.

Readable by teams, auditors and admins (the point of a catalog is that teams find each other's
services); the full spec and status stay behind the team's own capability routes. Partners see
no catalog. Called by routers/catalog.py. With a usage source configured, each entry also carries
`partnerUsage` (services/catalog_usage.py); without one the field is absent.

:class:`Summaries` remembers each capability's summary and its JSON bytes (as the route's response model
encodes them) for the very object the cache holds: an entry is reused only while the cache still holds
that same object at the same resourceVersion, so any change event (a new object replaces the old one in
the informer's store) is summarised afresh. A summary is the same for every caller allowed to see the
catalog (no field depends on who asks), so nothing in it can leak from one identity or team to another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import TypeAdapter

from platform_api.auth.identity import Identity, Role
from platform_api.authz import not_found, require_role, team_of_capability
from platform_api.cache import CAPABILITY, ReadCache
from platform_api.schemas import CatalogEntry
from platform_api.services import catalog_usage
from platform_api.services.common import is_true

__all__ = ["Summaries", "detail", "entry", "search"]

Obj = dict[str, Any]
_ENTRY = TypeAdapter(CatalogEntry)


def _channels(obj: Obj) -> list[str]:
    exposed = (obj.get("status") or {}).get("exposedOn") or []
    names = {e.get("channel") for e in exposed if isinstance(e, dict) and e.get("channel")}
    return sorted(str(n) for n in names)


def _version(spec: Obj) -> str | None:
    """spec.version, else the image's tag (or digest prefix): the rule of the app.kubernetes.io/version label."""
    from finplane.render.image import parse_image

    if spec.get("version"):
        return str(spec["version"])
    try:
        ref = parse_image(str(spec.get("image") or ""))
    except ValueError:
        return None
    return ref.tag or (ref.digest[7:19] if ref.digest else None)


def entry(obj: Obj, usage: catalog_usage.PartnerUsage | None = None) -> Obj:
    meta, spec = obj.get("metadata", {}), obj.get("spec") or {}
    out = {"name": meta.get("name"), "namespace": meta.get("namespace"), "team": team_of_capability(obj),
            "domain": spec.get("domain"), "description": spec.get("description"), "version": _version(spec),
            "classification": spec.get("dataClassification"), "ready": is_true(obj, "Ready"),
            "compliant": is_true(obj, "Compliant"), "channels": _channels(obj)}
    if usage is not None:
        out["partnerUsage"] = catalog_usage.summary(usage, str(meta.get("namespace") or ""), str(meta.get("name")))
    return out


class Summaries:
    """Each capability's :func:`entry` (without usage) and its JSON, for the object the cache holds now.

    Bounded: past ``max_entries`` it starts again empty (the catalog's own size is the working set)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._by_key: dict[tuple[str, str], tuple[Obj, object, Obj, bytes]] = {}

    def _get(self, obj: Obj) -> tuple[Obj, bytes]:
        meta = obj.get("metadata", {})
        key = (str(meta.get("namespace") or ""), str(meta.get("name")))
        version = meta.get("resourceVersion")
        hit = self._by_key.get(key)
        if hit is not None and hit[0] is obj and hit[1] == version and version is not None:
            return hit[2], hit[3]
        summary = entry(obj)
        raw = _ENTRY.dump_json(_ENTRY.validate_python(summary), exclude_unset=True)
        if version is not None:  # an object without a version (never one from the API server) is not kept
            if len(self._by_key) >= self.max_entries:
                self._by_key.clear()
            self._by_key[key] = (obj, version, summary, raw)
        return summary, raw

    def summary(self, obj: Obj) -> Obj:
        """:func:`entry` of ``obj`` without usage (shared: do not change it)."""
        return self._get(obj)[0]

    def page_json(self, objs: Iterable[Obj], next_cursor: str | None) -> bytes:
        """The body of a catalog page without usage, byte for byte what ``Page[CatalogEntry]`` encodes."""
        items = b",".join(self._get(o)[1] for o in objs)
        cursor = _CURSOR.dump_json(next_cursor)
        return b'{"items":[' + items + b'],"nextCursor":' + cursor + b"}"

    def __len__(self) -> int:
        return len(self._by_key)


_CURSOR = TypeAdapter(str | None)


def search(*, identity: Identity, cache: ReadCache, team: str | None = None, domain: str | None = None,
           classification: str | None = None, ready: bool | None = None, channel: str | None = None,
           q: str | None = None, after: tuple[str, ...] | None = None,
           summaries: Summaries | None = None) -> Iterator[Obj]:
    """The matching capabilities in (namespace, name) order, strictly after the key `after` (a cursor's).

    Lazy: the caller takes one page (pagination.take_page), so only the capabilities up to the end of
    that page are looked at; with no filter, none is summarised at all. The role is checked at once."""
    require_role(identity, Role.TEAM, Role.AUDITOR, Role.ADMIN)
    needle = q.lower() if q else None
    ordered = cache.ordered(CAPABILITY, after)
    if needle is None and team is None and domain is None and classification is None and ready is None \
            and channel is None:
        return ordered  # no filter: summarising every capability just to keep them all is waste
    return _matching(ordered, team=team, domain=domain, classification=classification, ready=ready,
                     channel=channel, needle=needle, summarise=summaries.summary if summaries is not None else entry)


def _matching(ordered: Iterator[Obj], *, summarise: Callable[[Obj], Obj], team: str | None, domain: str | None, classification: str | None,
              ready: bool | None, channel: str | None, needle: str | None) -> Iterator[Obj]:
    for obj in ordered:
        e = summarise(obj)
        if team is not None and e["team"] != team:
            continue
        if domain is not None and e["domain"] != domain:
            continue
        if classification is not None and e["classification"] != classification:
            continue
        if ready is not None and bool(e["ready"]) != ready:
            continue
        if channel is not None and channel not in e["channels"]:
            continue
        if needle and not any(needle in str(e[f] or "").lower() for f in ("name", "domain", "description", "team")):
            continue
        yield obj


def _dep_refs(obj: Obj) -> list[tuple[str, str]]:
    ns = obj.get("metadata", {}).get("namespace") or ""
    refs = []
    for dep in (obj.get("spec") or {}).get("dependencies") or []:
        if isinstance(dep, dict) and dep.get("name"):
            refs.append((dep.get("namespace") or ns, str(dep["name"])))
    return refs


def detail(*, identity: Identity, cache: ReadCache, namespace: str, name: str) -> Obj:
    require_role(identity, Role.TEAM, Role.AUDITOR, Role.ADMIN)
    obj = cache.get(CAPABILITY, name, namespace)
    if obj is None:
        raise not_found("Capability", f"{namespace}/{name}")

    def ref(ns: str, n: str) -> Obj:
        other = cache.get(CAPABILITY, n, ns)
        return {"namespace": ns, "name": n, "exists": other is not None,
                "ready": is_true(other, "Ready") if other is not None else None}

    depends_on = [ref(ns, n) for ns, n in _dep_refs(obj)]
    by = sorted((o["metadata"].get("namespace") or "", o["metadata"]["name"]) for o in cache.list(CAPABILITY)
                if (namespace, name) in _dep_refs(o))
    return {**entry(obj), "dependsOn": depends_on, "dependedOnBy": [ref(ns, n) for ns, n in by]}
