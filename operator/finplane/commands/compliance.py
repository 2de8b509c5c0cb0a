"""`finplane compliance preview POLICY`: what switching POLICY to enforce would refuse, read from the cluster.

Called by `finplane.cli.compliance_preview`. Reads the policy, the capabilities and the channels
through the Kubernetes gateway (KUBECONFIG), computes the answer with the pure
`finplane.policy.preview.summary` (the same function the platform API's preview route serves) and
prints it, with the reach of the admission policy enforce mode would apply (the namespaces it lists are read
too). Changes nothing; exit code 0, or 2 when the policy cannot be read.
"""

from __future__ import annotations

import asyncio

import typer

from finplane import API_VERSION
from finplane.policy.preview import summary
from finplane.policy.subject import Obj

__all__ = ["preview"]


async def _load(name: str) -> tuple[Obj, list[Obj], list[Obj], list[Obj]]:
    from finplane.kube.client import KubeClient

    kube = await KubeClient.from_config()
    try:
        policy = await kube.get(API_VERSION, "CompliancePolicy", name)
        return (policy, await kube.list(API_VERSION, "BusinessCapability"), await kube.list(API_VERSION, "Channel"),
                await kube.list("v1", "Namespace"))
    finally:
        await kube.close()


def _selector(sel: Obj | None) -> str:
    """A label selector the way kubectl's -l writes it."""
    if not sel:
        return "everything"
    terms = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        op, values = e["operator"], ",".join(e.get("values") or [])
        terms.append({"In": f"{e['key']} in ({values})", "NotIn": f"{e['key']} notin ({values})",
                      "Exists": e["key"], "DoesNotExist": f"!{e['key']}"}[op])
    return ", ".join(terms)


def _print_admission(a: Obj) -> None:
    if not a["rendered"]:
        typer.echo(f"admission: no ValidatingAdmissionPolicy ({a['note']})")
        return
    typer.echo(f"admission: ValidatingAdmissionPolicy {a['name']} failurePolicy={a['failurePolicy']} "
               f"on {', '.join(a['resources'])}; rules {', '.join(a['rules'])}")
    typer.echo(f"  never covers: {', '.join(a['excludedNamespaces'])}")
    typer.echo(f"  namespaces selected by: {_selector(a['namespaceSelector'])}")
    typer.echo(f"  objects selected by: {_selector(a['objectSelector'])}")
    if a["namespaces"] is not None:
        typer.echo(f"  reaches namespaces: {', '.join(a['namespaces']) or '-'}")


def preview(policy: str) -> int:
    """Print the refused capabilities (rules, team) and the teams and channels hit; the exit code."""
    from finplane.kube.errors import KubeError

    try:
        body, caps, channels, namespaces = asyncio.run(_load(policy))
    except KubeError as exc:
        typer.echo(f"cannot read CompliancePolicy {policy}: {exc.message}", err=True)
        return 2
    found = summary(body, caps, channels, namespaces)
    typer.echo(f"CompliancePolicy {policy} (mode {found['mode']}): in enforce mode {len(found['refused'])} of "
               f"{found['evaluated']} capabilities would be refused")
    for r in found["refused"]:
        typer.echo(f"REFUSED BusinessCapability {r['namespace']}/{r['name']} team={r['team'] or '-'}")
        for v in r["violations"]:
            typer.echo(f"  rule {v['rule']}: {v['message']}")
    typer.echo(f"teams: {', '.join(found['teams']) or '-'}")
    typer.echo(f"channels: {', '.join(found['channels']) or '-'}")
    _print_admission(found["admission"])
    return 0
