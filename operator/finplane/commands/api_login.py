"""`finplane login`: point the client at a platform API with a pasted token, checked before it is saved.

The token is read from `--token`, else standard input (a prompt that does not echo it on a terminal),
checked against the API (`GET /api/v1/compliance/evidence/public-key`, which every role may read: a refused
token is not saved, exit 4), then written
with the URL to the login file (`finplane.apiclient.config.login_file`, mode 0600). `finplane dev`
logs its folder in on its own (an admin token in `.finplane/dev/client.json` while it runs).
Registered on the `finplane` command by `finplane.cli`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from finplane.apiclient.config import Target, login_file, write_config
from finplane.commands.api_common import token_claims
from finplane.commands.errors import UserError

__all__ = ["login"]


def login(url: Annotated[str, typer.Option(help="The platform API, e.g. https://finplane.bank.example.")],
          token: Annotated[str | None, typer.Option(help="The bearer token (default: read from standard input).")]
          = None) -> None:
    """Log the client in to a platform API with a pasted token (your IdP's, or `finplane token` in dev)."""
    from finplane.apiclient.http import Api

    if token is None:
        token = typer.prompt("Token", hide_input=True) if sys.stdin.isatty() else sys.stdin.readline()
    token = (token or "").strip()
    if not token:
        raise UserError("no token given", hint="paste one, or pass --token")
    url = url.rstrip("/").removesuffix("/api/v1")
    with Api(Target(url, token, "login")) as api:
        api.send_or_none("GET", "/compliance/evidence/public-key", what=f"log in to {url}")  # 404: no key yet, token fine
    path = login_file()
    claims = token_claims(token)
    write_config(path, url=url, token=token, subject=claims.get("sub"))
    typer.echo(f"logged in to {url} as {claims.get('sub', '?')} (role {claims.get('role', '?')}); saved in {path}")
