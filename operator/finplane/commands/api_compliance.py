"""`finplane compliance results|waivers|waiver …|evidence verify|export` and `compliance preview --api`.

The compliance view through the platform API: PolicyReport results (a team sees its own), waiver
requests and their four-eyes approval, what enforce mode would refuse, and the evidence chain's
verification and point-in-time export as the API computes them (auditors and admins). The local-file
`finplane evidence …` commands stay what an auditor runs on a copy of the log. Registered on the
`finplane compliance` group by `finplane.cli`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from finplane.commands.api_common import TokenOption, UrlOption, connect
from finplane.commands.errors import ExitCode, UserError
from finplane.commands.output import Format, OutputOption, emit

__all__ = ["evidence_api_app", "preview_api", "register", "waivers_app"]

waivers_app = typer.Typer(no_args_is_help=True, help="Waiver requests and approvals (platform API).")
evidence_api_app = typer.Typer(no_args_is_help=True, help="The evidence chain as the platform API sees it.")
RESULTS = [("POLICY", "policy"), ("RULE", "rule"), ("RESULT", "result"), ("SEVERITY", "severity"),
           ("TEAM", "team"), ("NAMESPACE", "namespace"), ("RESOURCE", "resources"), ("MESSAGE", "message")]
WAIVERS = [("ID", "id"), ("POLICY", "policy"), ("RULE", "rule"), ("STATE", "state"), ("REQUESTED BY", "requestedBy"),
           ("APPROVER", "approver"), ("EXPIRES", "expiresAt")]
Opt = typer.Option


def results(policy: Annotated[str | None, Opt(help="Only this policy's.")] = None,
            rule: Annotated[str | None, Opt(help="Only this rule's.")] = None,
            result: Annotated[str | None, Opt(help="pass, fail, warn, error or skip.")] = None,
            severity: Annotated[str | None, Opt(help="low, medium, high or critical.")] = None,
            team: Annotated[str | None, Opt(help="Only this team's.")] = None,
            output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """Compliance results (PolicyReports) by team, policy, rule, severity and result."""
    params = {"policy": policy, "rule": rule, "result": result, "severity": severity, "team": team}
    with connect(url, token) as api:
        emit(api.pages("/compliance/results", what="list compliance results", params=params), output, RESULTS)


def preview_api(policy: str, output: Format, url: str | None, token: str | None) -> None:
    """What switching POLICY to enforce would refuse, as the API computes it."""
    with connect(url, token) as api:
        found = api.request("GET", f"/compliance/policies/{policy}/preview", what=f"preview policy {policy}")
    if output is not Format.table:
        emit(found, output)
        return
    typer.echo(f"CompliancePolicy {policy} (mode {found['mode']}): in enforce mode {len(found['refused'])} of "
               f"{found['evaluated']} capabilities would be refused")
    for r in found["refused"]:
        typer.echo(f"REFUSED BusinessCapability {r['namespace']}/{r['name']} team={r['team'] or '-'}")
        for v in r["violations"]:
            typer.echo(f"  rule {v['rule']}: {v['message']}")
    typer.echo(f"teams: {', '.join(found['teams']) or '-'}")
    typer.echo(f"channels: {', '.join(found['channels']) or '-'}")


@waivers_app.command("list")
def waivers_list(state: Annotated[str | None, Opt(help="pending or approved.")] = None,
                 output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """Waivers, pending and approved, that you may see."""
    with connect(url, token) as api:
        emit(api.pages("/compliance/waivers", what="list waivers", params={"state": state}), output, WAIVERS)


@waivers_app.command("request")
def waivers_request(
    policy: Annotated[str, Opt(help="The CompliancePolicy.")],
    rule: Annotated[str, Opt(help="The rule id to waive, e.g. no-latest-tag.")],
    resource: Annotated[list[str], Opt(help="KIND/NAMESPACE/NAME (or KIND/NAMESPACE); repeatable.")],
    justification: Annotated[str, Opt(help="Why (at least 10 characters).")],
    risk: Annotated[str, Opt(help="low, medium, high or critical.")],
    ticket: Annotated[str, Opt(help="The risk ticket.")],
    expires_at: Annotated[str, Opt(help="RFC 3339 with a zone, at most 90 days away.")],
    output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None,
) -> None:
    """Ask for a waiver; it is pending until an admin other than you approves it. Prints its id."""
    objects = []
    for r in resource:
        parts = r.split("/")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise UserError(f"--resource {r}: expected KIND/NAMESPACE/NAME", hint="e.g. BusinessCapability/payments/pay")
        objects.append(dict(zip(("kind", "namespace", "name"), parts, strict=False)))
    body = {"policy": policy, "rule": rule, "resources": objects, "justification": justification, "risk": risk,
            "ticket": ticket, "expiresAt": expires_at}
    with connect(url, token) as api:
        emit(api.request("POST", "/compliance/waivers", what=f"request a waiver of {policy}/{rule}", json=body),
             output, [("ID", "id"), ("STATE", "state"), ("POLICY", "policy"), ("RULE", "rule")])


def _decide(policy: str, waiver_id: str, verb: str, url: str | None, token: str | None) -> None:
    with connect(url, token) as api:
        api.request("POST", f"/compliance/policies/{policy}/waivers/{waiver_id}/{verb}",
                    what=f"{verb} waiver {waiver_id} of {policy}")
    typer.echo(f"waiver {waiver_id} of {policy}: {verb}d")


@waivers_app.command("approve")
def waivers_approve(policy: str, waiver_id: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Approve a pending waiver into the policy (an admin who did not request it)."""
    _decide(policy, waiver_id, "approve", url, token)


@waivers_app.command("reject")
def waivers_reject(policy: str, waiver_id: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Reject a pending waiver request."""
    _decide(policy, waiver_id, "reject", url, token)


@evidence_api_app.command("verify")
def evidence_verify(output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """Verify the chain the API holds, anchored on the policies' status heads; exit 1 when it does not verify."""
    with connect(url, token) as api:
        v = api.request("GET", "/compliance/evidence/verify", what="verify the evidence chain")
    if output is not Format.table:
        emit(v, output)
    elif v.get("ok"):
        typer.echo(f"OK: {v['entries']} entries, head {v['head']}"
                   + (f"; reaches {', '.join(v['anchors'])}" if v.get("anchors") else "; NOT ANCHORED"))
    else:
        typer.echo(f"FAILED: {'line ' + str(v['badLine']) + ': ' if v.get('badLine') else ''}{v.get('reason')}")
    if not v.get("ok"):
        raise typer.Exit(ExitCode.FAILED)


@evidence_api_app.command("export")
def evidence_export(from_: Annotated[str, Opt("--from", help="Start (ISO 8601; a date is its midnight UTC).")],
                    to: Annotated[str, Opt(help="End (ISO 8601).")],
                    team: Annotated[str | None, Opt(help="Only this team (and platform-wide entries).")] = None,
                    out: Annotated[Path, Opt(help="Write bundle.json here.")] = Path("bundle.json"),
                    url: UrlOption = None, token: TokenOption = None) -> None:
    """Download the point-in-time bundle (what was true at --to, the entries between); exit 1 if unverified."""
    with connect(url, token) as api:
        bundle = api.request("GET", "/compliance/evidence/export", what="export evidence",
                             params={"from": from_, "to": to, "team": team})
    out.write_text(json.dumps(bundle, indent=2, sort_keys=True), encoding="utf-8")
    typer.echo(f"wrote {out}: {len(bundle.get('stateAtTo', []))} results as of {bundle.get('to')}, "
               f"{len(bundle.get('entries', []))} entries; chain "
               + ("verified" if bundle.get("chainVerified") else "NOT verified") + f", head {bundle.get('chainHead')}")
    if not bundle.get("chainVerified"):
        raise typer.Exit(ExitCode.FAILED)


def register(compliance_app: typer.Typer) -> None:
    """Add these commands to the `finplane compliance` group."""
    compliance_app.command("results")(results)
    compliance_app.add_typer(waivers_app, name="waivers")
    compliance_app.add_typer(evidence_api_app, name="evidence")
