"""`finplane compliance preview POLICY`: what switching POLICY to enforce would refuse.

Reads the policy and the Finplane objects from the cluster (KUBECONFIG), renders each capability
as the operator would, and runs the same `enforced_violations` hook the capability reconciler
runs, with the policy treated as enforced. Prints the refused capabilities with their rules, the
teams they belong to and the channels that route to them; exit code 0 (nothing is changed).
"""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from finplane import API_VERSION
from finplane.policy.enforce import enforced_violations
from finplane.policy.engine import capability_subject
from finplane.policy.subject import Context
from finplane.settings import get_settings

__all__ = ["main", "refusals"]

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


async def _load(name: str) -> tuple[Obj, list[Obj], list[Obj]]:
    from finplane.kube.client import Kube

    kube = await Kube.from_config()
    try:
        policy = await kube.get(API_VERSION, "CompliancePolicy", name)
        return (policy, await kube.list(API_VERSION, "BusinessCapability"), await kube.list(API_VERSION, "Channel"))
    finally:
        await kube.close()


def main(policy: str) -> int:
    from finplane.kube.errors import KubeError

    try:
        body, caps, channels = asyncio.run(_load(policy))
    except KubeError as exc:
        typer.echo(f"cannot read CompliancePolicy {policy}: {exc.message}", err=True)
        return 2
    refused = refusals(body, caps, channels)
    mode = (body.get("spec") or {}).get("mode", "audit")
    typer.echo(f"CompliancePolicy {policy} (mode {mode}): in enforce mode {len(refused)} of {len(caps)} "
               "capabilities would be refused")
    teams: set[str] = set()
    hit_channels: set[str] = set()
    for cap, violations in refused:
        ns, name = cap["metadata"].get("namespace", ""), cap["metadata"]["name"]
        team = (cap.get("spec") or {}).get("owner", {}).get("team", "-")
        teams.add(team)
        for ch in channels:
            for r in (ch.get("spec") or {}).get("routes") or []:
                for ref in (r.get("capability"), (r.get("canary") or {}).get("capability")):
                    if ref and (ref.get("namespace"), ref.get("name")) == (ns, name):
                        hit_channels.add(ch["metadata"]["name"])
        typer.echo(f"REFUSED BusinessCapability {ns}/{name} team={team}")
        for rule, message in violations:
            typer.echo(f"  rule {rule}: {message}")
    typer.echo(f"teams: {', '.join(sorted(teams)) or '-'}")
    typer.echo(f"channels: {', '.join(sorted(hit_channels)) or '-'}")
    return 0
