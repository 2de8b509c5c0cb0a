"""The portal's guard rails, written as the people they keep out (TestClient, in-memory doubles).

Covers: pages need a session (else the sign-in page); the session cookie is HttpOnly, SameSite=Strict and
signed (a tampered one is no session); every page has the strict CSP and no inline script, handler or
style; a form without this session's CSRF token, or sent from another site, is refused and writes nothing;
an auditor's pages draw no write control and a forged write is refused by the service; a team forging an
edit or delete of another team's capability gets 404; sign-in redirects only inside the portal; the dev
sign-in does not exist outside dev mode; the API docs load nothing from another origin.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from platform_api.app import create_app
from platform_api.cache import MemoryCache
from platform_api.settings import ApiSettings
from tests.portal.conftest import FakeWriter, capability, csrf_of, signin

PAGES = ["/portal/catalog", "/portal/capabilities/payments/ledger", "/portal/teams", "/portal/sandboxes",
         "/portal/compliance", "/portal/signin"]


def _seed(writer: FakeWriter) -> None:
    writer.seed(capability("ledger", "payments"))
    writer.seed(capability("scoring", "lending"))


def test_a_page_without_a_session_sends_the_browser_to_the_sign_in_page(client: TestClient) -> None:
    answer = client.get("/portal/catalog?team=x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/signin?next=%2Fportal%2Fcatalog%3Fteam%3Dx"


def test_the_session_cookie_is_httponly_samesite_strict_and_a_tampered_one_is_no_session(
        client: TestClient, writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "admin", "ada")
    cookie = next(c for c in client.cookies.jar if c.name == "finplane-session")
    token = csrf_of(client, "/portal/catalog")
    answer = client.post("/portal/signin", data={"csrf_token": token, "role": "admin", "subject": "ada"},
                         follow_redirects=False)
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/" in header
    body, mac = cookie.value.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac  # e.g. a role changed in the payload
    client.cookies.clear()
    client.cookies.set("finplane-session", forged)
    assert client.get("/portal/catalog", follow_redirects=False).status_code == 303


def test_every_page_has_the_strict_csp_and_no_inline_script_handler_or_style(client: TestClient,
                                                                            writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "admin", "ada")
    for url in PAGES:
        answer = client.get(url)
        assert answer.status_code == 200, url
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        html = answer.text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], url
        assert re.findall(r"\son[a-z]+\s*=", html) == [], url
        assert " style=" not in html, url
        assert answer.headers["x-frame-options"] == "DENY"


def test_a_form_without_this_sessions_csrf_token_is_refused_and_writes_nothing(
        client: TestClient, writer: FakeWriter, settings: ApiSettings) -> None:
    _seed(writer)
    signin(client, "team", "bob", team="payments")
    form = {"name": "fresh", "spec": "domain: payments\nimage: r.example/x:1\nowner: {contact: a@b.example}\n"}
    missing = client.post("/portal/capabilities/payments/new", data=form)
    assert missing.status_code == 403 and "CsrfTokenInvalid" in missing.text
    other = TestClient(create_app(settings, cache=MemoryCache(), writer=writer))  # another browser, its own session
    signin(other, "team", "bob", team="payments")
    theirs = csrf_of(other, "/portal/teams")
    assert client.post("/portal/capabilities/payments/new", data={**form, "csrf_token": theirs}).status_code == 403
    mine = csrf_of(client, "/portal/teams")
    cross = client.post("/portal/capabilities/payments/new", data={**form, "csrf_token": mine},
                        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and "CrossOriginForm" in cross.text
    assert writer.writes == []


def test_an_auditor_sees_no_write_control_and_its_forged_posts_are_refused(client: TestClient,
                                                                         writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "auditor", "audrey")
    for url in PAGES[:-1]:
        forms = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', client.get(url).text)
        assert forms == ["/portal/signout"], f"{url} draws write controls for an auditor: {forms}"
    token = csrf_of(client, "/portal/catalog")
    create = client.post("/portal/capabilities/payments/new",
                         data={"csrf_token": token, "name": "x", "spec": "domain: payments\n"})
    assert create.status_code == 403 and "RoleNotAllowed" in create.text
    delete = client.post("/portal/capabilities/payments/ledger/delete", data={"csrf_token": token, "etag": "*"})
    assert delete.status_code == 403
    assert writer.writes == []


def test_a_team_forging_an_edit_or_delete_of_another_teams_capability_gets_404(client: TestClient,
                                                                             writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "team", "bob", team="payments")
    assert client.get("/portal/capabilities/lending/scoring").status_code == 404
    token = csrf_of(client, "/portal/catalog")
    page = client.get("/portal/capabilities/payments/ledger").text
    assert "/portal/capabilities/payments/ledger/edit" in page  # its own: the controls are there
    edit = client.post("/portal/capabilities/lending/scoring/edit",
                       data={"csrf_token": token, "spec": "domain: lending\n", "etag": "*"})
    delete = client.post("/portal/capabilities/lending/scoring/delete", data={"csrf_token": token, "etag": "*"})
    assert edit.status_code == 404 and delete.status_code == 404
    assert writer.writes == []


def test_sign_in_goes_only_to_portal_paths_never_to_another_site(client: TestClient) -> None:
    for target, expected in (("//evil.example/portal/", "/portal/"), ("https://evil.example", "/portal/"),
                             ("/portal/teams", "/portal/teams")):
        client.cookies.clear()
        token = csrf_of(client, "/portal/signin")
        answer = client.post("/portal/signin", data={"csrf_token": token, "role": "admin", "subject": "ada",
                                                     "next": target}, follow_redirects=False)
        assert answer.headers["location"] == expected


def test_the_dev_sign_in_does_not_exist_outside_dev_mode(tmp_path: Path) -> None:
    cfg = ApiSettings(dev_mode=False, dev_key_dir=tmp_path / "k", evidence_dir=None)
    cache = MemoryCache()
    with TestClient(create_app(cfg, cache=cache, writer=FakeWriter(cache))) as c:
        page = c.get("/portal/signin")
        assert "Development sign-in" not in page.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is None  # no form at all; a forged one is refused
        answer = c.post("/portal/signin", data={"role": "admin", "subject": "mallory"})
        assert answer.status_code == 404


def test_a_partner_signing_in_without_a_partner_is_told_why(client: TestClient) -> None:
    token = csrf_of(client, "/portal/signin")
    answer = client.post("/portal/signin", data={"csrf_token": token, "role": "partner", "subject": "p"})
    assert answer.status_code == 422 and "partner token needs a partner claim" in answer.text


def test_the_api_docs_load_nothing_from_another_origin(client: TestClient) -> None:
    for url in ("/api/v1/docs", "/api/v1/redoc"):
        html = client.get(url).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and all(s.startswith("/") for s in sources), sources
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
        for src in sources:
            assert client.get(src).status_code == 200, src
    assert "/api/v1/docs" not in client.get("/api/v1/openapi.json").json()["paths"]


def test_the_portal_routes_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/portal")]
