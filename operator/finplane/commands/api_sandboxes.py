"""`finplane sandboxes list|get|request|approve|reject|extend|approve-extension|credential|rotate` and `finplane teams`.

Partners request sandboxes and read their credential (`credential` prints the key the one time the
API hands it out, then only says it was shown); admins approve or reject with the review tag they read
(four-eyes: the API refuses the requester, exit 4); extensions are requested and approved the same
way. `teams list|get` shows the Teams the caller may see. All through the platform API; registered on
the `finplane` command by `finplane.cli`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from finplane.commands.api_common import TokenOption, UrlOption, connect
from finplane.commands.errors import ExitCode, UserError
from finplane.commands.output import Format, OutputOption, emit

__all__ = ["sandboxes_app", "teams_app"]

sandboxes_app = typer.Typer(no_args_is_help=True, help="Partner sandboxes: request, approve, extend (platform API).")
teams_app = typer.Typer(no_args_is_help=True, help="Teams: namespaces, members, quota (platform API).")
COLUMNS = [("NAME", "name"), ("PARTNER", "partner"), ("APPROVAL", "approval"), ("PHASE", "phase"),
           ("NAMESPACE", "namespace"), ("EXPIRES", "expiresAt"), ("REQUESTED BY", "requestedBy")]
TEAMS = [("NAME", "name"), ("NAMESPACES", "namespaces"), ("READY", "ready"), ("YOUR ROLE", "yourRole"),
         ("CAPABILITIES", "capabilityCount")]
Comment = Annotated[str | None, typer.Option(help="Why (recorded with the decision).")]


@sandboxes_app.command("list")
def list_(approval: Annotated[str | None, typer.Option(help="pending, approved or rejected.")] = None,
          partner: Annotated[str | None, typer.Option(help="Only this partner's.")] = None,
          output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """List the sandboxes you may see."""
    with connect(url, token) as api:
        emit(api.pages("/sandboxes", what="list sandboxes", params={"approval": approval, "partner": partner}),
             output, COLUMNS)


@sandboxes_app.command("get")
def get(name: str, output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """Show one sandbox (its review tag `etag` included)."""
    with connect(url, token) as api:
        emit(api.request("GET", f"/sandboxes/{name}", what=f"get sandbox {name}"), output,
             [*COLUMNS, ("ETAG", "etag"), ("CREDENTIAL", "credential.fingerprint"), ("EXTENSION", "extensionRequest")])


@sandboxes_app.command("request")
def request(name: Annotated[str, typer.Argument(help="`<partner>--<name>`, e.g. acme--dev.")],
            organisation: Annotated[str, typer.Option(help="The partner's organisation.")],
            contact: Annotated[str, typer.Option(help="The partner's contact e-mail.")],
            tier: Annotated[str, typer.Option(help="small, medium or large.")] = "small",
            ttl_seconds: Annotated[int, typer.Option(help="Lifetime after approval.")] = 604800,
            accept_terms: Annotated[bool, typer.Option("--accept-terms", help="Accept the sandbox terms.")] = False,
            output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """Request a sandbox; it is provisioned once an admin approves it."""
    if not accept_terms:
        raise UserError("a sandbox request needs the partner to accept the terms", hint="add --accept-terms")
    body = {"name": name, "termsAccepted": True,
            "spec": {"partner": {"organisation": organisation, "contact": contact}, "tier": tier,
                     "ttlSeconds": ttl_seconds}}
    with connect(url, token) as api:
        emit(api.request("POST", "/sandboxes", what=f"request sandbox {name}", json=body), output, COLUMNS[:4])


def _decide(name: str, path: str, what: str, comment: str | None, url: str | None, token: str | None,
            *, with_body: bool = True) -> None:
    with connect(url, token) as api:
        tag = api.request("GET", f"/sandboxes/{name}", what=f"read sandbox {name}")["etag"]
        body = api.request("POST", f"/sandboxes/{name}{path}", what=f"{what} sandbox {name}",
                           json={"comment": comment} if with_body else None, headers={"If-Match": tag})
    typer.echo(f"sandbox {name}: {what}d" + (f" ({body.get('approval')})" if isinstance(body, dict) else ""))


@sandboxes_app.command("approve")
def approve(name: str, comment: Comment = None, url: UrlOption = None, token: TokenOption = None) -> None:
    """Approve a pending request as you read it now (an admin who is not the requester)."""
    _decide(name, "/approve", "approve", comment, url, token)


@sandboxes_app.command("reject")
def reject(name: str, comment: Comment = None, url: UrlOption = None, token: TokenOption = None) -> None:
    """Reject a pending request."""
    _decide(name, "/reject", "reject", comment, url, token)


@sandboxes_app.command("extend")
def extend(name: str, expires_at: Annotated[str, typer.Option(help="The new expiry, RFC 3339 with a zone.")],
           reason: Annotated[str, typer.Option(help="Why it needs longer.")],
           url: UrlOption = None, token: TokenOption = None) -> None:
    """Request a later expiry (an admin other than you approves it with `approve-extension`)."""
    with connect(url, token) as api:
        api.request("POST", f"/sandboxes/{name}/extension", what=f"request an extension of sandbox {name}",
                    json={"expiresAt": expires_at, "reason": reason})
    typer.echo(f"sandbox {name}: extension to {expires_at} requested")


@sandboxes_app.command("approve-extension")
def approve_extension(name: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Approve the pending extension as you read it now (sets the sandbox's expiry)."""
    _decide(name, "/extension/approve", "extension approve", None, url, token, with_body=False)


@sandboxes_app.command("credential")
def credential(name: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Print the partner's API key: only the first read after provisioning or rotation returns it."""
    with connect(url, token) as api:
        body = api.request("GET", f"/sandboxes/{name}", what=f"read sandbox {name}")
    cred = body.get("credential") or {}
    if cred.get("value"):
        typer.echo(cred["value"])
        typer.echo(f"# shown once: fingerprint {cred.get('fingerprint')}; store it now", err=True)
        return
    if cred.get("shown"):
        raise UserError(f"the credential of sandbox {name} was already shown (fingerprint {cred.get('fingerprint')})",
                        hint=f"rotate it for a new one: finplane sandboxes rotate {name}", code=ExitCode.CONFLICT)
    raise UserError(f"sandbox {name} has no credential for you yet (approval {body.get('approval')}, "
                    f"phase {body.get('phase')})",
                    hint="it is handed to the partner the sandbox names, once the operator has provisioned it",
                    code=ExitCode.NOT_FOUND)


@sandboxes_app.command("rotate")
def rotate(name: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Rotate the partner credential; `credential` then shows the new key once."""
    with connect(url, token) as api:
        api.request("POST", f"/sandboxes/{name}/rotation", what=f"rotate the credential of sandbox {name}")
    typer.echo(f"sandbox {name}: credential rotation requested; read it with `finplane sandboxes credential {name}`")


@teams_app.command("list")
def teams_list(output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """List the Teams you may see."""
    with connect(url, token) as api:
        emit((api.request("GET", "/teams", what="list teams") or {}).get("items", []), output, TEAMS)


@teams_app.command("get")
def teams_get(name: str, output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """One Team: namespaces, owners and members, quota, capabilities."""
    with connect(url, token) as api:
        emit(api.request("GET", f"/teams/{name}", what=f"get team {name}"), output,
             [*TEAMS, ("OWNERS", "owners"), ("MEMBERS", "members"), ("QUOTA", "quota"),
              ("CAPABILITIES LIST", "capabilities")])
