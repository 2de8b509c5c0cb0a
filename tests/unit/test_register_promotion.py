"""The DORA register lists promotions to production access as arrangements of their own (render.dora_register).

An approved promotion is `<sandbox>/production` from its approval, active after the sandbox expired, ended on
its revocation date; it lists only the capabilities it names.
"""

from __future__ import annotations

import json
from typing import Any

from finplane.render.dora_register import parse_as_of, register_rows
from tests.unit.test_register_command import sandbox

Obj = dict[str, Any]


def promoted(revoked_at: str | None = None) -> Obj:
    body = sandbox("acme--dev", "2026-03-01T00:00:00Z", status={"phase": "Expired", "expiresAt": "2026-03-11T00:00:00Z"})
    body["spec"]["allowedCapabilities"].append({"namespace": "payments", "name": "fx"})
    ann = {"finplane.io/promotion": "revoked" if revoked_at else "approved",
           "finplane.io/promotion-request": json.dumps({"capabilities": ["payments/payments-api"], "tier": "large"}),
           "finplane.io/promotion-decided-at": "2026-03-05T00:00:00Z"}
    if revoked_at:
        ann["finplane.io/promotion-revoked-at"] = revoked_at
    body["metadata"]["annotations"] = ann
    return body


def rows(body: Obj, as_of: str) -> list[tuple[str, str, str, str, list[str]]]:
    out = register_rows(sandboxes=[body], capabilities={}, channels=[], as_of=parse_as_of(as_of))
    return [(r["arrangementId"], r["contractStart"], r["contractEnd"], r["status"], r["capabilities"]) for r in out]


def test_a_promotion_outlives_the_sandboxs_expiry_in_the_register() -> None:
    assert rows(promoted(), "2026-04-01") == [
        ("acme--dev", "2026-03-01T00:00:00Z", "2026-03-11T00:00:00Z", "ended",
         ["payments/fx", "payments/payments-api"]),
        ("acme--dev/production", "2026-03-05T00:00:00Z", "", "active", ["payments/payments-api"])]


def test_a_revoked_promotion_ends_on_its_revocation_date() -> None:
    assert rows(promoted("2026-05-01T00:00:00Z"), "2026-06-01")[1] == (
        "acme--dev/production", "2026-03-05T00:00:00Z", "2026-05-01T00:00:00Z", "ended", ["payments/payments-api"])
    assert rows(promoted("2026-05-01T00:00:00Z"), "2026-04-01")[1][3] == "active"


def test_a_promotion_decided_after_the_as_of_date_is_not_listed() -> None:
    assert [r[0] for r in rows(promoted(), "2026-03-04")] == ["acme--dev"]
