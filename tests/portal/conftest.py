"""Fixtures of the portal tests: the API's in-memory doubles (tests/api/conftest.py) and a browser-like
client that signs in through the dev sign-in page and reads each form's CSRF token from the page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import (
    FakeWriter,
    cache,
    capability,
    client,
    mint,
    provision,
    sandbox_spec,
    settings,
    writer,
)

__all__ = ["FakeWriter", "cache", "capability", "client", "csrf_of", "mint", "provision", "sandbox_spec", "settings",
           "signin", "writer"]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, url: str) -> str:
    """The CSRF token a page's forms carry (what a browser would send back)."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, f"{url} has no form with a CSRF token"
    return found.group(1)


def signin(client: TestClient, role: str, subject: str, *, team: str = "", partner: str = "") -> None:
    token = csrf_of(client, "/portal/signin")
    answer = client.post("/portal/signin", data={"csrf_token": token, "role": role, "subject": subject,
                                                 "team": team, "partner": partner, "next": "/portal/"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


@pytest.fixture
def sign_in(client: TestClient) -> Callable[..., TestClient]:
    def _sign_in(role: str, subject: str, **kw: str) -> TestClient:
        signin(client, role, subject, **kw)
        return client
    return _sign_in
