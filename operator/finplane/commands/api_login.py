"""`finplane login`: point the client at a platform API with a token, checked before it is saved.

Two ways to get the token: pasted (`--token`, else standard input, a prompt that does not echo it on a
terminal), or the OpenID Connect device authorization grant (`--issuer` and `--client-id`, RFC 8628, run by
`finplane.apiclient.device`: it prints where to go and the code to type, waits for the approval, and refuses
a token that is not this API's, by issuer and audience). Either token is then checked against the API
(`GET /api/v1/compliance/evidence/public-key`, which every role may read: a refused token is not saved,
exit 4) and written with the URL to the login file (`finplane.apiclient.config.login_file`, mode 0600). The
token is never printed. `finplane dev` logs its folder in on its own (an admin token in
`.finplane/dev/client.json` while it runs). Registered on the `finplane` command by `finplane.cli`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from finplane.apiclient.config import Target, login_file, write_config
from finplane.commands.api_common import token_claims
from finplane.commands.errors import UserError

if TYPE_CHECKING:
    from finplane.apiclient.device import DeviceCode

__all__ = ["login"]


def _show(code: DeviceCode) -> None:
    typer.echo(f"To log in, open {code.verification_uri} and enter the code {code.user_code}"
               + (f" (or open {code.verification_uri_complete})" if code.verification_uri_complete else "")
               + f"; it expires in {code.expires_in // 60 or 1} min. Waiting…", err=True)


def login(url: Annotated[str, typer.Option(help="The platform API, e.g. https://finplane.bank.example.")],
          token: Annotated[str | None, typer.Option(help="The bearer token (default: read from standard input).")]
          = None,
          issuer: Annotated[str | None, typer.Option(help="Log in with the device code flow of this OpenID Connect "
                                                     "issuer (the API's FINPLANE_API_ISSUER) instead of a pasted "
                                                     "token.", envvar="FINPLANE_OIDC_ISSUER")] = None,
          client_id: Annotated[str | None, typer.Option(help="The IdP's client id of the finplane command (a "
                                                        "public client allowed the device grant).",
                                                        envvar="FINPLANE_OIDC_CLIENT_ID")] = None,
          audience: Annotated[str, typer.Option(help="The audience the API accepts (its FINPLANE_API_AUDIENCE).",
                                                envvar="FINPLANE_OIDC_AUDIENCE")] = "finplane-api",
          scope: Annotated[str, typer.Option(help="The scopes to ask for.")] = "openid profile") -> None:
    """Log the client in to a platform API: with your IdP's device code flow (--issuer), or a pasted token."""
    from finplane.apiclient.http import Api

    if issuer is not None:
        if token is not None:
            raise UserError("--issuer and --token exclude each other", hint="the device flow gets the token itself")
        if not client_id:
            raise UserError("--issuer needs --client-id", hint="the IdP's client id of the finplane command")
        from finplane.apiclient.device import device_login

        token, _ = device_login(issuer=issuer, client_id=client_id, audience=audience, scope=scope, show=_show)
    elif token is None:
        token = typer.prompt("Token", hide_input=True) if sys.stdin.isatty() else sys.stdin.readline()
    token = (token or "").strip()
    if not token:
        raise UserError("no token given", hint="paste one, pass --token, or log in with --issuer and --client-id")
    url = url.rstrip("/").removesuffix("/api/v1")
    with Api(Target(url, token, "login")) as api:
        api.send_or_none("GET", "/compliance/evidence/public-key", what=f"log in to {url}")  # 404: no key yet, token fine
    path = login_file()
    claims = token_claims(token)
    write_config(path, url=url, token=token, subject=claims.get("sub"))
    typer.echo(f"logged in to {url} as {claims.get('sub', '?')} (role {claims.get('role', '?')}); saved in {path}")
