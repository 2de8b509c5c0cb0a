"""`finplane compliance preview POLICY`: what switching POLICY to enforce would refuse, read from the cluster.

Called by `finplane.cli.compliance_preview`. Reads the policy, the capabilities and the channels
through the Kubernetes gateway (KUBECONFIG), computes the answer with the pure
`finplane.policy.preview.summary` (the same function the platform API's preview route serves) and
prints it. Changes nothing; exit code 0, or 2 when the policy cannot be read.
"""

from __future__ import annotations

import asyncio

import typer

from finplane import API_VERSION
from finplane.policy.preview import summary
from finplane.policy.subject import Obj

__all__ = ["preview"]


async def _load(name: str) -> tuple[Obj, list[Obj], list[Obj]]:
    from finplane.kube.client import KubeClient

    kube = await KubeClient.from_config()
    try:
        policy = await kube.get(API_VERSION, "CompliancePolicy", name)
        return (policy, await kube.list(API_VERSION, "BusinessCapability"), await kube.list(API_VERSION, "Channel"))
    finally:
        await kube.close()


def preview(policy: str) -> int:
    """Print the refused capabilities (rules, team) and the teams and channels hit; the exit code."""
    from finplane.kube.errors import KubeError

    try:
        body, caps, channels = asyncio.run(_load(policy))
    except KubeError as exc:
        typer.echo(f"cannot read CompliancePolicy {policy}: {exc.message}", err=True)
        return 2
    found = summary(body, caps, channels)
    typer.echo(f"CompliancePolicy {policy} (mode {found['mode']}): in enforce mode {len(found['refused'])} of "
               f"{found['evaluated']} capabilities would be refused")
    for r in found["refused"]:
        typer.echo(f"REFUSED BusinessCapability {r['namespace']}/{r['name']} team={r['team'] or '-'}")
        for v in r["violations"]:
            typer.echo(f"  rule {v['rule']}: {v['message']}")
    typer.echo(f"teams: {', '.join(found['teams']) or '-'}")
    typer.echo(f"channels: {', '.join(found['channels']) or '-'}")
    return 0
