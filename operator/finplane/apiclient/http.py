"""HTTP to the platform API for the `finplane` client: one httpx client, refusals as `UserError`.

`Api.request` sends a request under `/api/v1` with the bearer token and returns the decoded JSON
(or the raw response for downloads). A refusal becomes one `UserError` line with the API's own
`reason` and `detail` (and the fields of a 422), a hint saying what to do, and the exit code of its
status class (`finplane.commands.errors.ExitCode`); an unreachable API says which URL was tried.
Called by the `finplane.commands.api_*` subcommands.
"""

from __future__ import annotations

from typing import Any

import httpx

from finplane.apiclient.config import Target
from finplane.commands.errors import ExitCode, UserError

__all__ = ["Api", "problem_error"]

_CODES = {400: ExitCode.USAGE, 401: ExitCode.DENIED, 403: ExitCode.DENIED, 404: ExitCode.NOT_FOUND,
          409: ExitCode.CONFLICT, 412: ExitCode.CONFLICT, 413: ExitCode.USAGE, 422: ExitCode.USAGE,
          428: ExitCode.CONFLICT, 429: ExitCode.UNAVAILABLE}
_HINTS = {401: "log in again: `finplane login --url URL` with a fresh token",
          403: "your role may not do this (docs/platform-api.md, 'Routes and who may call them')",
          404: "check the name (objects you may not see are reported as missing too)",
          409: "look at its current state and try again",
          412: "someone changed it since you read it: read it again and retry",
          428: "this decision needs the version you reviewed",
          429: "wait a little and try again"}


def problem_error(response: httpx.Response, what: str) -> UserError:
    """A refusal of the API as one line: `<what>: <status> <reason>: <detail>; field: message…`."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    reason = body.get("reason") or body.get("title") or response.reason_phrase
    detail = body.get("detail") or ""
    fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or [] if isinstance(e, dict))
    text = f"{what}: {response.status_code} {reason}" + (f": {detail}" if detail else "") + (
        f" ({fields})" if fields and fields not in detail else "")
    status = response.status_code
    hint = _HINTS.get(status) or ("the API failed; its log says why" if status >= 500 else None)
    if status == 429 and response.headers.get("retry-after"):
        hint = f"wait {response.headers['retry-after']} s and try again"
    return UserError(text, hint=hint, code=_CODES.get(status, ExitCode.UNAVAILABLE if status >= 500 else ExitCode.FAILED))


class Api:
    """The platform API at `target.url`, authenticated with `target.token`."""

    def __init__(self, target: Target, *, timeout: float = 30.0) -> None:
        self.target = target
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self._http = httpx.Client(base_url=f"{target.url}/api/v1", headers=headers, timeout=timeout)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def send(self, method: str, path: str, *, what: str, json: Any = None, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """The response of a 2xx; UserError for anything else or when the API cannot be reached."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=json, params=query, headers=headers)
        except httpx.TransportError as exc:
            raise UserError(f"{what}: cannot reach the platform API at {self.target.url} ({exc.__class__.__name__})",
                            hint="is `finplane dev` (or the API) running? `finplane login --url URL` points "
                                 "the client elsewhere", code=ExitCode.UNAVAILABLE) from None
        if response.status_code >= 400:
            raise problem_error(response, what)
        return response

    def send_or_none(self, method: str, path: str, *, what: str) -> httpx.Response | None:
        """As `send`, but None for a 404 (the object does not exist, or the caller may not see it)."""
        try:
            return self.send(method, path, what=what)
        except UserError as exc:
            if exc.code is ExitCode.NOT_FOUND:
                return None
            raise

    def request(self, method: str, path: str, *, what: str, json: Any = None, params: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> Any:
        """The decoded JSON body of a 2xx (None when it has none)."""
        response = self.send(method, path, what=what, json=json, params=params, headers=headers)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def pages(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paginated list route, following `nextCursor`."""
        items: list[Any] = []
        query = dict(params or {})
        while True:
            page = self.request("GET", path, what=what, params=query)
            if not isinstance(page, dict):
                return items
            items.extend(page.get("items") or [])
            if not page.get("nextCursor"):
                return items
            query["cursor"] = page["nextCursor"]
