"""The DORA register of information for auditors and admins: ICT third-party arrangements as of a date.

Called by routers/register.py. Reads the watch-fed cache only (sandboxes, capabilities, channels) and
builds the rows with `finplane.render.dora_register`, the function `finplane evidence register` uses,
so the API and the CLI write the same register. A date that does not parse is a 422 naming it.
"""

from __future__ import annotations

from typing import Any

from finplane.render.dora_register import as_csv, parse_as_of, register_rows
from platform_api.cache import CAPABILITY, CHANNEL, SANDBOX, ReadCache
from platform_api.problems import Problem

__all__ = ["register", "register_csv"]

Obj = dict[str, Any]


def register(*, cache: ReadCache, as_of: str) -> Obj:
    """{"asOf", "arrangements": [row...]} as of the date (its end, UTC) or time given."""
    try:
        moment = parse_as_of(as_of)
    except ValueError:
        raise Problem(422, f"asOf {as_of!r} is not an ISO 8601 date (YYYY-MM-DD) or a time with a zone.",
                      slug="invalid-as-of", reason="InvalidAsOf") from None
    caps = {(str(c["metadata"].get("namespace", "")), str(c["metadata"]["name"])): c for c in cache.list(CAPABILITY)}
    rows = register_rows(sandboxes=cache.list(SANDBOX), capabilities=caps, channels=cache.list(CHANNEL),
                         as_of=moment)
    return {"asOf": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "arrangements": rows}


def register_csv(register_obj: Obj) -> str:
    return as_csv(register_obj["arrangements"])
