"""Discovery documents: /api, /apis, /apis/GROUP, group/version resource lists and /version.

Called by the HTTP layer. Clients (kubectl, kopf, the official client) read these to map
kinds and short names to URLs and to learn which resources have a /status subresource.
Only the legacy (non-aggregated) format is served; clients asking for aggregated discovery
get it as plain `application/json` and fall back, as they do with older servers.
"""

from __future__ import annotations

from typing import Any

from finplane_emulator.resources import Registry, ResourceInfo
from finplane_emulator.scale import SCALABLE

__all__ = ["KUBE_VERSION", "api_group", "api_group_list", "api_versions", "resource_list", "version"]

KUBE_VERSION = (1, 32, 0)  # kubectl's dispatcher picks the kubectl matching this


def version() -> dict[str, Any]:
    major, minor, patch = KUBE_VERSION
    return {"major": str(major), "minor": str(minor), "gitVersion": f"v{major}.{minor}.{patch}+finplane",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
            "platform": "linux/amd64", "emulated": "finplane embedded API server"}


def api_versions(host: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = registry.groups().get(group)
    if not versions or not group:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = []
    for group in registry.groups():
        if group:
            doc = api_group(registry, group)
            assert doc is not None
            doc.pop("kind")
            doc.pop("apiVersion")
            groups.append(doc)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _entry(info: ResourceInfo) -> list[dict[str, Any]]:
    main: dict[str, Any] = {"name": info.plural, "singularName": info.singular_name, "namespaced": info.namespaced,
                            "kind": info.kind, "verbs": list(info.verbs)}
    if info.short_names:
        main["shortNames"] = list(info.short_names)
    if info.categories:
        main["categories"] = list(info.categories)
    out = [main]
    if info.status:
        out.append({"name": f"{info.plural}/status", "singularName": "", "namespaced": info.namespaced,
                    "kind": info.kind, "verbs": ["get", "patch", "update"]})
    if (info.group, info.plural) in SCALABLE:
        out.append({"name": f"{info.plural}/scale", "singularName": "", "namespaced": info.namespaced,
                    "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
    return out


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    infos = registry.in_group_version(group, version)
    if not infos:
        return None
    resources = [entry for info in sorted(infos, key=lambda i: i.plural) for entry in _entry(info)]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources}
