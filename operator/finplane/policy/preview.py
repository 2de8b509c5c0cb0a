"""What switching a CompliancePolicy to enforce would refuse (`finplane compliance preview`, the API's preview).

Pure: given the policy and the Finplane objects, renders each capability as the operator would and
runs the same `enforced_violations` hook the capability reconciler runs, with the policy treated as
enforced. `summary` is the answer as data (refused capabilities with their rules, the teams they
belong to and the channels that route to them), served by the platform API's preview route and
printed by `finplane.commands.compliance`, which reads the objects from the cluster.
"""

from __future__ import annotations

from typing import Any

from finplane.policy.enforce import enforced_violations
from finplane.policy.engine import capability_subject
from finplane.policy.subject import Context
from finplane.settings import get_settings

__all__ = ["refusals", "routing_channels", "summary"]

Obj = dict[str, Any]


def refusals(policy: Obj, capabilities: list[Obj], channels: list[Obj]) -> list[tuple[Obj, list[tuple[str, str]]]]:
    """(capability, violations) for every capability the policy would refuse in enforce mode. Pure."""
    settings = get_settings()
    caps = {(c["metadata"].get("namespace", ""), c["metadata"]["name"]): c for c in capabilities}
    ctx = Context(capabilities=caps, channels={("", ch["metadata"]["name"]): ch for ch in channels})
    out = []
    for _, body in sorted(caps.items()):
        subject = capability_subject(body, settings)
        found = enforced_violations([policy], "BusinessCapability", body, subject.children, ctx=ctx,
                                    force_enforce=True)
        if found:
            out.append((body, found))
    return out


def routing_channels(capability: Obj, channels: list[Obj]) -> list[str]:
    """Names of the channels with a route (or a canary) to `capability`. Pure."""
    ns, name = capability["metadata"].get("namespace", ""), capability["metadata"]["name"]
    hit = set()
    for ch in channels:
        for r in (ch.get("spec") or {}).get("routes") or []:
            for ref in (r.get("capability"), (r.get("canary") or {}).get("capability")):
                if ref and (ref.get("namespace"), ref.get("name")) == (ns, name):
                    hit.add(ch["metadata"]["name"])
    return sorted(hit)


def summary(policy: Obj, capabilities: list[Obj], channels: list[Obj]) -> Obj:
    """The preview as data: refused capabilities with rules, team and channels; teams and channels hit. Pure."""
    refused = []
    for cap, violations in refusals(policy, capabilities, channels):
        refused.append({"kind": "BusinessCapability", "namespace": cap["metadata"].get("namespace", ""),
                        "name": cap["metadata"]["name"],
                        "team": (cap.get("spec") or {}).get("owner", {}).get("team"),
                        "channels": routing_channels(cap, channels),
                        "violations": [{"rule": rule, "message": message} for rule, message in violations]})
    return {"policy": policy["metadata"]["name"], "mode": (policy.get("spec") or {}).get("mode", "audit"),
            "evaluated": len(capabilities), "refused": refused,
            "teams": sorted({r["team"] for r in refused if r["team"]}),
            "channels": sorted({c for r in refused for c in r["channels"]})}
