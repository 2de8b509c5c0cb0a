"""What every platform-API subcommand of `finplane` shares: the connection options and the API handle.

`connect(url, token)` resolves the target (`finplane.apiclient.config`) and says how to log in when
nothing is configured; `token_claims` reads the token's own claims (unverified: only to default
`--team`, the API verifies everything). Called by the `finplane.commands.api_*` modules.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from finplane.apiclient.config import resolve
from finplane.commands.errors import ExitCode, UserError

if TYPE_CHECKING:  # httpx is imported when a client command runs, not for `finplane --help`
    from finplane.apiclient.http import Api

__all__ = ["TokenOption", "UrlOption", "connect", "read_spec_file", "team_of", "token_claims"]

UrlOption = Annotated[str | None, typer.Option("--url", help="The platform API (default: `finplane login`'s, "
                                               "or the running `finplane dev`'s).", envvar="FINPLANE_API_URL")]
TokenOption = Annotated[str | None, typer.Option("--token", help="A bearer token (default: the logged-in one).",
                                                 envvar="FINPLANE_TOKEN", show_envvar=True)]
NOT_LOGGED_IN = "run `finplane login --url URL` (and paste a token), or start `finplane dev` in this folder"


def connect(url: str | None, token: str | None) -> Api:
    from finplane.apiclient.http import Api

    target = resolve(url=url, token=token)
    if target is None:
        raise UserError("no platform API configured", hint=NOT_LOGGED_IN, code=ExitCode.DENIED)
    if not target.token:
        raise UserError(f"no token for {target.url}", hint=NOT_LOGGED_IN, code=ExitCode.DENIED)
    return Api(target)


def token_claims(token: str | None) -> dict[str, Any]:
    """The JWT's payload, not verified (empty when it is not a JWT)."""
    try:
        payload = (token or "").split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def team_of(api: Api, team: str | None) -> str:
    """`--team`, else the token's own team claim; UserError when neither says."""
    found = team or token_claims(api.target.token).get("team")
    if not isinstance(found, str) or not found:
        raise UserError("which team?", hint="add --team TEAM (a team token names its own team)")
    return found


def read_spec_file(path: Path) -> list[dict[str, Any]]:
    """The objects of a YAML or JSON file (`-f`), as `finplane render` reads them."""
    from finplane.commands.render import read_documents

    docs = read_documents(path)
    if not docs:
        raise UserError(f"{path}: no object in it", hint="a BusinessCapability manifest, as kubectl applies it")
    return [yaml.safe_load(yaml.safe_dump(d)) for d in docs]
