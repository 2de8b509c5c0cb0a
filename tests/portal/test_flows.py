"""What each role does through the portal, end to end over the API's services (TestClient, doubles).

Covers: a team creates, edits (the ETag it read is the precondition: a stale one is refused with 412 and
the form kept) and deletes its capability; the catalog filters and draws the dependency graph naming what
is not Ready; a partner sees only its own sandbox, requests one, and receives its credential exactly once
(a second try and every other role get no key); the admin who requested a sandbox gets no approve button
and a forged approval is refused (four-eyes), a second admin approves the reviewed version; the team page
shows quota used and total.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from platform_api.portal import graph
from tests.portal.conftest import FakeWriter, capability, csrf_of, signin

SPEC = "owner:\n  contact: pay@bank.example\ndomain: payments\nimage: registry.bank.example/p/fresh:1.0.0\n"


def test_a_team_creates_edits_with_the_etag_it_read_and_deletes_its_capability(client: TestClient,
                                                                             writer: FakeWriter) -> None:
    writer.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}})
    signin(client, "team", "bob", team="payments")
    token = csrf_of(client, "/portal/capabilities/payments/new")
    created = client.post("/portal/capabilities/payments/new", data={"csrf_token": token, "name": "fresh", "spec": SPEC},
                          follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/portal/capabilities/payments/fresh"
    stored = writer.objects[("finplane.io/v1alpha1", "BusinessCapability", "payments", "fresh")]
    assert stored["spec"]["owner"]["team"] == "payments"
    assert stored["metadata"]["annotations"]["finplane.io/created-by"] == "bob"

    form = client.get("/portal/capabilities/payments/fresh/edit").text
    etag = re.search(r'name="etag" value="([^"]+)"', form)
    assert etag is not None
    writer.seed(stored)  # someone else wrote meanwhile: a new resourceVersion
    stale = client.post("/portal/capabilities/payments/fresh/edit",
                        data={"csrf_token": token, "etag": etag.group(1).replace("&#34;", '"'),
                              "spec": SPEC.replace("1.0.0", "1.1.0")})
    assert stale.status_code == 412 and "StaleVersion" in stale.text and "1.1.0" in stale.text
    fresh_tag = re.search(r'name="etag" value="([^"]+)"', client.get("/portal/capabilities/payments/fresh/edit").text)
    assert fresh_tag is not None
    saved = client.post("/portal/capabilities/payments/fresh/edit", follow_redirects=False,
                        data={"csrf_token": token, "etag": fresh_tag.group(1).replace("&#34;", '"'),
                              "spec": SPEC.replace("1.0.0", "1.1.0")})
    assert saved.status_code == 303
    current = writer.objects[("finplane.io/v1alpha1", "BusinessCapability", "payments", "fresh")]
    assert current["spec"]["image"].endswith(":1.1.0")

    bad = client.post("/portal/capabilities/payments/new", data={"csrf_token": token, "name": "Bad_Name", "spec": SPEC})
    assert bad.status_code == 422 and "DNS label" in bad.text
    page = client.get("/portal/capabilities/payments/fresh").text
    tag = re.search(r'action="/portal/capabilities/payments/fresh/delete".*?name="etag" value="([^"]+)"', page, re.S)
    assert tag is not None
    gone = client.post("/portal/capabilities/payments/fresh/delete", follow_redirects=False,
                       data={"csrf_token": token, "etag": tag.group(1).replace("&#34;", '"')})
    assert gone.status_code == 303
    assert ("finplane.io/v1alpha1", "BusinessCapability", "payments", "fresh") not in writer.objects


def test_the_catalog_filters_and_its_graph_names_the_dependency_that_is_not_ready(client: TestClient,
                                                                                writer: FakeWriter) -> None:
    writer.seed(capability("payments-api", "payments", deps=[{"name": "kyc-check", "namespace": "kyc"}],
                           channels=["open-api"]))
    writer.seed(capability("kyc-check", "kyc", domain="kyc", ready=False, classification="restricted"))
    writer.seed(capability("scoring", "lending", domain="lending"))
    signin(client, "team", "bob", team="payments")
    page = client.get("/portal/catalog?team=payments").text
    rows = re.findall(r'<td><a href="/portal/capabilities/[^"]+">([^<]+)</a>', page)
    assert rows == ["payments-api"]
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert 'data-node="cap:kyc/kyc-check"' in svg and "NOT Ready: Progressing" in svg  # the callee, pulled in
    assert 'data-node="chan:open-api"' in svg
    assert "Not Ready: kyc-check." in page
    assert "scoring" not in svg
    ready_only = client.get("/portal/catalog?ready=false").text
    assert re.findall(r'<td><a href="/portal/capabilities/[^"]+">([^<]+)</a>', ready_only) == ["kyc-check"]


def test_the_graph_layout_puts_callers_left_of_what_they_call_even_with_a_cycle() -> None:
    a = capability("a", "t", deps=[{"name": "b", "namespace": "t"}])
    b = capability("b", "t", deps=[{"name": "a", "namespace": "t"}], ready=False)
    c = capability("c", "t", deps=[{"name": "a", "namespace": "t"}])
    drawn = graph.build([a, b, c], [])
    assert drawn.nodes["cap:t/a"].col > drawn.nodes["cap:t/c"].col
    assert [n.label for n in drawn.not_ready()] == ["b"]


def test_a_partner_sees_only_its_own_sandbox_and_receives_the_credential_exactly_once(
        client: TestClient, writer: FakeWriter, provision: object, settings: object) -> None:
    signin(client, "partner", "pat", partner="acme")
    token = csrf_of(client, "/portal/sandboxes")
    asked = client.post("/portal/sandboxes", follow_redirects=False, data={
        "csrf_token": token, "name": "trial", "organisation": "Acme Ltd", "contact": "ops@acme.example",
        "tier": "small", "days": "7", "terms": "yes"})
    assert asked.status_code == 303 and asked.headers["location"] == "/portal/sandboxes/acme--trial"
    writer.seed({"apiVersion": "finplane.io/v1alpha1", "kind": "TenantSandbox",
                 "metadata": {"name": "globex--x", "annotations": {"finplane.io/approval": "pending"}},
                 "spec": {"partner": {"name": "globex", "organisation": "G", "contact": "g@g.example"},
                          "tier": "small", "ttlSeconds": 86400}})
    listing = client.get("/portal/sandboxes").text
    assert "acme--trial" in listing and "globex--x" not in listing
    assert client.get("/portal/sandboxes/globex--x").status_code == 404

    # approved by an admin, provisioned by the operator (played here)
    obj = writer.objects[("finplane.io/v1alpha1", "TenantSandbox", "", "acme--trial")]
    obj["metadata"]["annotations"]["finplane.io/approval"] = "approved"
    writer.seed(obj)
    provision("acme--trial", key="fpk_secret_value_1")  # type: ignore[operator]
    page = client.get("/portal/sandboxes/acme--trial").text
    assert "fpk_secret_value_1" not in page and "Show the credential (once)" in page
    first = client.post("/portal/sandboxes/acme--trial/credential", data={"csrf_token": token})
    assert first.status_code == 200 and "fpk_secret_value_1" in first.text
    assert first.headers["cache-control"] == "no-store"
    again = client.post("/portal/sandboxes/acme--trial/credential", data={"csrf_token": token})
    assert "fpk_secret_value_1" not in again.text and again.status_code == 409
    assert "Show the credential" not in client.get("/portal/sandboxes/acme--trial").text


def test_the_admin_who_requested_a_sandbox_cannot_approve_it_and_a_second_admin_approves_what_it_reviewed(
        client: TestClient, writer: FakeWriter) -> None:
    signin(client, "admin", "ada")
    token = csrf_of(client, "/portal/sandboxes")
    client.post("/portal/sandboxes", data={"csrf_token": token, "partner": "acme", "name": "pilot",
                                           "organisation": "Acme", "contact": "o@acme.example", "tier": "small",
                                           "days": "3", "terms": "yes"})
    page = client.get("/portal/sandboxes/acme--pilot").text
    assert "Approve this request" not in page and "another admin must decide" in page
    tag = re.search(r"review tag <code>([^<]+)</code>", page)
    assert tag is not None
    forged = client.post("/portal/sandboxes/acme--pilot/approve", data={"csrf_token": token, "etag": tag.group(1)})
    assert forged.status_code == 403 and "SelfApproval" in forged.text

    client.cookies.clear()
    signin(client, "admin", "grace")
    token = csrf_of(client, "/portal/sandboxes/acme--pilot")
    page = client.get("/portal/sandboxes/acme--pilot").text
    assert "Approve this request" in page
    stale = client.post("/portal/sandboxes/acme--pilot/approve", data={"csrf_token": token, "etag": '"stale"'})
    assert stale.status_code == 412
    tag = re.search(r'action="/portal/sandboxes/acme--pilot/approve".*?name="etag" value="([^"]+)"', page, re.S)
    assert tag is not None
    done = client.post("/portal/sandboxes/acme--pilot/approve", follow_redirects=False,
                       data={"csrf_token": token, "etag": tag.group(1).replace("&#34;", '"')})
    assert done.status_code == 303
    ann = writer.objects[("finplane.io/v1alpha1", "TenantSandbox", "", "acme--pilot")]["metadata"]["annotations"]
    assert ann["finplane.io/approval"] == "approved" and ann["finplane.io/decided-by"] == "grace"


def test_the_team_page_shows_quota_used_and_total_and_its_capabilities(client: TestClient,
                                                                     writer: FakeWriter) -> None:
    writer.seed({"apiVersion": "finplane.io/v1alpha1", "kind": "Team", "metadata": {"name": "payments"},
                 "spec": {"displayName": "Payments", "owners": [{"kind": "User", "name": "bob"}],
                          "quota": {"capabilities": 5}},
                 "status": {"namespaces": [{"name": "payments", "state": "Created"}],
                            "usage": {"capabilities": 1}}})
    writer.seed(capability("ledger", "payments"))
    signin(client, "team", "bob", team="payments")
    page = client.get("/portal/teams/payments").text
    assert re.search(r"<td>capabilities</td><td>1</td><td>5</td>", page)
    assert "/portal/capabilities/payments/ledger" in page and "New capability" in page
    assert client.get("/portal/teams/lending").status_code == 404
