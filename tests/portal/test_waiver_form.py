"""The capability page's waiver request form, and its children rendered by finplane's own renderer.

Covers: a team member requests a waiver over its own capability from the page (CSRF-checked like every
form) and it waits, pending, for an admin on the compliance page; as the attacker, a member of another
team posting the same form (with its own valid CSRF token) over a capability it does not own is refused
and nothing is stored; a form without the session's CSRF token is refused; bad input is a 422 page, never
a 500; the page shows the Deployment the renderer gives for the spec.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.portal.conftest import FakeWriter, capability, csrf_of, signin

API = "finplane.io/v1alpha1"
PAGE = "/portal/capabilities/payments/pay"


def _seed(writer: FakeWriter) -> None:
    writer.seed({"apiVersion": API, "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
                 "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}})
    writer.seed(capability("pay", "payments"))
    writer.seed(capability("kyc-check", "kyc", domain="kyc"))


def _form(token: str, **kw: str) -> dict[str, str]:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")
    return {"csrf_token": token, "policy": "baseline", "rule": "no-latest-tag", "risk": "low", "ticket": "RISK-7",
            "expiresAt": expires, "justification": "vendor image only has latest", **kw}


def _waiver_requests(writer: FakeWriter) -> list[object]:
    return [k for k in writer.objects if k[1] == "ConfigMap"]


def test_a_team_member_requests_a_waiver_over_its_capability_and_it_waits_for_an_admin(
        client: TestClient, writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "team", "pat", team="payments")
    page = client.get(PAGE).text
    assert 'action="/portal/capabilities/payments/pay/waiver"' in page and "Request waiver" in page
    sent = client.post(f"{PAGE}/waiver", data=_form(csrf_of(client, PAGE)), follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/portal/compliance"
    assert len(_waiver_requests(writer)) == 1
    compliance = client.get("/portal/compliance").text
    assert "pending" in compliance and "no-latest-tag" in compliance


def test_another_teams_member_cannot_request_a_waiver_over_a_capability_it_does_not_own(
        client: TestClient, writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "team", "kim", team="kyc")
    assert "Request waiver" in client.get("/portal/capabilities/kyc/kyc-check").text  # its own: drawn
    token = csrf_of(client, "/portal/capabilities/kyc/kyc-check")
    forged = client.post(f"{PAGE}/waiver", data=_form(token), follow_redirects=False)
    assert forged.status_code == 404  # as the page itself: another team's capability does not exist for it
    assert _waiver_requests(writer) == []


def test_a_waiver_form_without_the_sessions_csrf_token_or_with_bad_input_is_refused(
        client: TestClient, writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "team", "pat", team="payments")
    assert client.post(f"{PAGE}/waiver", data=_form("forged"), follow_redirects=False).status_code == 403
    token = csrf_of(client, PAGE)
    bad = client.post(f"{PAGE}/waiver", data=_form(token, rule="no-such-rule", justification="short"),
                      follow_redirects=False)
    assert bad.status_code == 422 and "rule" in bad.text and "justification" in bad.text
    assert _waiver_requests(writer) == []


def test_an_auditor_gets_no_waiver_form_and_a_forged_one_is_refused(client: TestClient, writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "auditor", "audrey")
    assert "Request waiver" not in client.get(PAGE).text
    forged = client.post(f"{PAGE}/waiver", data=_form(csrf_of(client, "/portal/compliance")), follow_redirects=False)
    assert forged.status_code == 403 and _waiver_requests(writer) == []


def test_the_capability_page_shows_the_children_the_renderer_gives(client: TestClient, writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "team", "pat", team="payments")
    page = client.get(PAGE).text
    assert 'id="rendered"' in page and "kind: Deployment" in page and "kind: NetworkPolicy" in page
