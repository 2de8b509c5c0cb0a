"""`finplane capabilities list|get|apply -f|delete` and `finplane catalog search|get`, through the platform API.

A product team's view of its BusinessCapabilities: list and get read `/teams/{team}/capabilities`,
`apply -f FILE` creates each capability of the manifest or replaces its spec (with the `If-Match` of
what it read, so a concurrent change is a conflict, exit 5), delete removes one. The catalog is the
summary every team may search. Registered on the `finplane` command by `finplane.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from finplane.commands.api_common import TokenOption, UrlOption, connect, read_spec_file, team_of
from finplane.commands.errors import UserError
from finplane.commands.output import Format, OutputOption, emit

__all__ = ["capabilities_app", "catalog_app"]

capabilities_app = typer.Typer(no_args_is_help=True, help="Your team's capabilities (platform API).")
catalog_app = typer.Typer(no_args_is_help=True, help="Search every team's capabilities (platform API).")
Team = Annotated[str | None, typer.Option(help="The team (default: the token's own).")]
COLUMNS = [("NAMESPACE", "namespace"), ("NAME", "name"), ("TEAM", "team"), ("READY", "ready"),
           ("IMAGE", "spec.image"), ("VERSION", "spec.version")]
CATALOG = [("NAMESPACE", "namespace"), ("NAME", "name"), ("TEAM", "team"), ("DOMAIN", "domain"),
           ("VERSION", "version"), ("CLASSIFICATION", "classification"), ("READY", "ready"),
           ("COMPLIANT", "compliant"), ("CHANNELS", "channels")]


@capabilities_app.command("list")
def list_(team: Team = None, output: OutputOption = Format.table, url: UrlOption = None,
          token: TokenOption = None) -> None:
    """List the team's capabilities with their readiness."""
    with connect(url, token) as api:
        t = team_of(api, team)
        emit(api.pages(f"/teams/{t}/capabilities", what=f"list the capabilities of team {t}"), output, COLUMNS)


@capabilities_app.command("get")
def get(name: str, team: Team = None, output: OutputOption = Format.table, url: UrlOption = None,
        token: TokenOption = None) -> None:
    """Show one capability: spec, readiness and the status the operator wrote."""
    with connect(url, token) as api:
        t = team_of(api, team)
        emit(api.request("GET", f"/teams/{t}/capabilities/{name}", what=f"get capability {t}/{name}"), output,
             [*COLUMNS, ("RESOURCE VERSION", "resourceVersion"), ("CONDITIONS", "status.conditions")])


@capabilities_app.command("apply")
def apply(file: Annotated[Path, typer.Option("-f", "--file", help="A YAML file of BusinessCapabilities.")],
          team: Team = None, output: OutputOption = Format.table, url: UrlOption = None,
          token: TokenOption = None) -> None:
    """Create each capability of FILE, or replace its spec when it exists (guarded by its version)."""
    docs = read_spec_file(file)
    for d in docs:
        if d.get("kind") != "BusinessCapability" or not (d.get("metadata") or {}).get("name"):
            raise UserError(f"{file}: {d.get('kind') or 'an object'} is not a named BusinessCapability",
                            hint="channels, sandboxes and policies have their own commands or are kubectl's")
    applied = []
    with connect(url, token) as api:
        for d in docs:
            name, t = d["metadata"]["name"], team_of(api, team or d["metadata"].get("namespace"))
            path, spec = f"/teams/{t}/capabilities", d.get("spec") or {}
            current = api.send_or_none("GET", f"{path}/{name}", what=f"read capability {t}/{name}")
            if current is None:
                body = api.request("POST", path, what=f"create capability {t}/{name}", json={"name": name, "spec": spec})
                verb = "created"
            else:
                body = api.request("PUT", f"{path}/{name}", what=f"update capability {t}/{name}", json={"spec": spec},
                                   headers={"If-Match": current.headers.get("etag", "")})
                verb = "configured"
            applied.append({**(body or {}), "result": verb})
    if output is Format.table:
        for a in applied:
            typer.echo(f"businesscapability {a.get('namespace')}/{a.get('name')} {a['result']}")
    else:
        emit(applied, output)


@capabilities_app.command("delete")
def delete(name: str, team: Team = None, url: UrlOption = None, token: TokenOption = None) -> None:
    """Delete a capability (the operator removes its children)."""
    with connect(url, token) as api:
        t = team_of(api, team)
        current = api.send("GET", f"/teams/{t}/capabilities/{name}", what=f"read capability {t}/{name}")
        api.send("DELETE", f"/teams/{t}/capabilities/{name}", what=f"delete capability {t}/{name}",
                 headers={"If-Match": current.headers.get("etag", "")})
    typer.echo(f"businesscapability {t}/{name} deleted")


@catalog_app.command("search")
def search(query: Annotated[str | None, typer.Argument(help="Free text (name, description, domain…).")] = None,
           team: Annotated[str | None, typer.Option(help="Only this team's.")] = None,
           domain: Annotated[str | None, typer.Option(help="Only this business domain.")] = None,
           classification: Annotated[str | None, typer.Option(help="public, internal, confidential or restricted.")] = None,
           ready: Annotated[bool | None, typer.Option("--ready/--not-ready", help="Only ready (or not ready) ones.")] = None,
           channel: Annotated[str | None, typer.Option(help="Only those exposed on this channel.")] = None,
           output: OutputOption = Format.table, url: UrlOption = None, token: TokenOption = None) -> None:
    """Search the catalog: owner, domain, version, readiness, compliance and channels of every capability."""
    params = {"q": query, "team": team, "domain": domain, "classification": classification, "channel": channel,
              "ready": None if ready is None else str(ready).lower()}
    with connect(url, token) as api:
        emit(api.pages("/catalog", what="search the catalog", params=params), output, CATALOG)


@catalog_app.command("get")
def catalog_get(namespace: str, name: str, output: OutputOption = Format.table, url: UrlOption = None,
                token: TokenOption = None) -> None:
    """One catalog entry with its dependency graph (depends on, depended on by)."""
    with connect(url, token) as api:
        emit(api.request("GET", f"/catalog/{namespace}/{name}", what=f"get catalog entry {namespace}/{name}"), output,
             [*CATALOG, ("DESCRIPTION", "description"), ("DEPENDS ON", "dependsOn"), ("DEPENDED ON BY", "dependedOnBy")])
