"""Recent events and drift on the capability page, and the page's refresh (TestClient, in-memory doubles; the
API's real informer cache fed watch events by hand for the bound).

Covers: a team sees its capability's Events, newest first, with reason, message, type, count and last time,
the operator's Drift events highlighted and summed up; another team gets 404 for the page and its refresh
and none of the Events, and a partner is refused; an auditor reads them; Events about other objects (another
team's capability of the same name, a Pod, an earlier capability of the same name) are not this one's; the
API keeps at most PER_OBJECT Events per object, the most recent, in the index and in the informer's own
store, and keeps none about non-Finplane objects; the refresh (`.../live`) sends the heading's Ready badge
and the replica counts along with the conditions, so the heading turns Ready with the table.
"""

from __future__ import annotations

import asyncio
import re
from html import unescape
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

from platform_api.cache import InformerCache
from platform_api.event_index import PER_OBJECT, EventIndex
from tests.portal.conftest import FakeWriter, capability, signin

Obj = dict[str, Any]
CAP = "finplane.io/v1alpha1"


def event(name: str, *, about: str = "ledger", namespace: str = "payments", reason: str = "Drift",
          message: str = "Reverted manual change to Deployment/payments/ledger: spec.replicas",
          type_: str = "Warning", last: str = "2026-12-01T10:00:00Z", count: int = 1,
          kind: str = "BusinessCapability", api_version: str = CAP, uid: str | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {"apiVersion": api_version, "kind": kind, "name": about, "namespace": namespace,
                               **({"uid": uid} if uid else {})},
            "reason": reason, "message": message, "type": type_, "count": count,
            "firstTimestamp": last, "lastTimestamp": last, "source": {"component": "finplane-operator"}}


def _rows(html: str) -> list[tuple[str, ...]]:
    section = html[html.index('<section id="events"'):]
    section = section[:section.index("</section>")]
    return [tuple(unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td>(.*?)</td>", row))
            for row in re.findall(r"<tr data-event-reason[^>]*>(.*?)</tr>", section)]


def _seed(writer: FakeWriter) -> None:
    writer.seed(capability("ledger", "payments"))
    writer.seed(capability("ledger", "lending"))  # another team's capability of the same name
    writer.seed(event("ledger.1", reason="Drift", last="2026-12-01T10:00:00Z", count=3))
    writer.seed(event("ledger.2", reason="CredentialMissing", type_="Normal", message="Waiting for the pull Secret",
                      last="2026-12-01T11:00:00Z"))
    writer.seed(event("ledger.3", namespace="lending", reason="Drift", message="drift of the lending ledger"))
    writer.seed(event("pod.1", about="ledger-5d9f", kind="Pod", api_version="v1", reason="BackOff",
                      message="Back-off restarting failed container"))


def test_a_team_sees_its_capabilitys_events_newest_first_with_drift_highlighted(client: TestClient,
                                                                               writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "team", "bob", team="payments")
    page = client.get("/portal/capabilities/payments/ledger").text
    assert _rows(page) == [
        ("2026-12-01T11:00:00Z", "Normal", "CredentialMissing", "Waiting for the pull Secret", "1"),
        ("2026-12-01T10:00:00Z", "Warning", "Drift",
         "Reverted manual change to Deployment/payments/ledger: spec.replicas", "3")]
    assert re.search(r'<tr data-event-reason="Drift" class="drift">', page)
    assert re.search(r'id="drift-summary"[^>]*><strong>Drift: the operator reverted a manual change 3 times', page)
    assert "drift of the lending ledger" not in page and "Back-off" not in page


def test_another_team_gets_no_events_of_a_capability_it_cannot_read(client: TestClient, writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "team", "eve", team="lending")
    for url in ("/portal/capabilities/payments/ledger", "/portal/capabilities/payments/ledger/live"):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert "Waiting for the pull Secret" not in answer.text and "spec.replicas" not in answer.text
    own = client.get("/portal/capabilities/lending/ledger").text  # its own ledger: its own events only
    assert [r[3] for r in _rows(own)] == ["drift of the lending ledger"]


def test_an_auditor_reads_the_events_and_a_partner_is_refused(client: TestClient, writer: FakeWriter) -> None:
    _seed(writer)
    signin(client, "auditor", "audrey")
    assert len(_rows(client.get("/portal/capabilities/payments/ledger").text)) == 2
    signin(client, "partner", "jane", partner="acmepay")
    refused = client.get("/portal/capabilities/payments/ledger/live")
    assert refused.status_code == 403 and "spec.replicas" not in refused.text


def test_an_event_about_an_earlier_object_of_the_same_name_is_not_shown(client: TestClient,
                                                                       writer: FakeWriter) -> None:
    current = capability("ledger", "payments")
    current["metadata"]["uid"] = "uid-now"
    writer.seed(current)
    writer.seed(event("old.1", uid="uid-before", message="about the ledger deleted last week"))
    writer.seed(event("new.1", uid="uid-now", message="about this ledger"))
    signin(client, "team", "bob", team="payments")
    assert [r[3] for r in _rows(client.get("/portal/capabilities/payments/ledger").text)] == ["about this ledger"]


def test_the_index_keeps_the_most_recent_per_object_and_nothing_about_other_kinds() -> None:
    index = EventIndex(per_object=3)
    dropped = [k for i in range(5) for k in index.observe(event(f"e{i}", last=f"2026-12-01T10:0{i}:00Z"))]
    assert dropped == [("payments", "e0"), ("payments", "e1")]
    cap = {"kind": "BusinessCapability", "metadata": {"name": "ledger", "namespace": "payments"}}
    assert [e["metadata"]["name"] for e in index.for_object(cap)] == ["e4", "e3", "e2"]
    late = event("late", last="2026-11-30T00:00:00Z")  # older than all kept: not kept either
    assert index.observe(late) == [("payments", "late")] and len(index) == 3
    assert index.observe(event("p", kind="Pod", api_version="v1")) == [("payments", "p")] and len(index) == 3
    index.forget(event("e4"))
    assert [e["metadata"]["name"] for e in index.for_object(cap)] == ["e3", "e2"]


def test_the_apis_informer_cache_holds_at_most_per_object_events_per_capability() -> None:
    cache = InformerCache(SimpleNamespace(transport=None))  # never started: watch events are fed by hand
    informer = cache.event_informer
    assert informer.field_selector == "involvedObject.apiVersion=finplane.io/v1alpha1"

    async def feed() -> None:
        for i in range(PER_OBJECT + 5):
            await informer._handle({"type": "ADDED", "object": event(f"e{i:02}", last=f"2026-12-01T10:{i:02}:00Z")})
        await informer._handle({"type": "ADDED", "object": event("pod", kind="Pod", api_version="v1")})
        await informer._handle({"type": "DELETED", "object": event(f"e{PER_OBJECT + 4:02}")})

    asyncio.run(feed())
    assert len(informer.store) == PER_OBJECT - 1  # the five oldest and the Pod's dropped, the newest deleted
    cap = {"kind": "BusinessCapability", "metadata": {"name": "ledger", "namespace": "payments"}}
    shown = [e["metadata"]["name"] for e in cache.events(cap)]
    assert shown == [f"e{i:02}" for i in range(PER_OBJECT + 3, 4, -1)]
    for served in cache.informers.values():
        served.ready.set()
    assert cache.ready and not informer.ready.is_set()  # readiness is the served kinds', never the events'


def test_the_refresh_sends_the_headings_badge_with_the_conditions(client: TestClient, writer: FakeWriter) -> None:
    writer.seed(capability("ledger", "payments", ready=False))
    signin(client, "team", "bob", team="payments")
    page = client.get("/portal/capabilities/payments/ledger").text
    heading = page[page.index("<h1>"):page.index("</h1>")]
    assert 'id="ready-badge"' in heading and "not Ready" in heading
    assert 'hx-get="/portal/capabilities/payments/ledger/live"' in page
    writer.set_status(CAP, "BusinessCapability", "ledger", {"readyReplicas": 1, "replicas": 2, "conditions": [
        {"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": "2026-12-01T12:00:00Z"}]},
        namespace="payments")
    live = client.get("/portal/capabilities/payments/ledger/live")
    assert live.status_code == 200 and live.headers["content-security-policy"].startswith("default-src 'none'")
    assert re.search(r'<span id="ready-badge" hx-swap-oob="true"><span class="ok">Ready</span></span>', live.text)
    assert 'data-condition="Ready" data-status="True"' in live.text
    assert '<section id="events" aria-labelledby="events-h" hx-swap-oob="true">' in live.text
    assert '<dd id="replicas" hx-swap-oob="true">1 ready of 2</dd>' in live.text
    assert "<h1>" not in live.text and "<html" not in live.text  # a fragment, not the page


def test_the_apis_event_watch_asks_the_server_for_events_about_finplane_objects_only() -> None:
    """List and watch both carry the field selector: the API is never sent every Pod's events."""
    asked: list[str] = []

    class Response:
        status = 200

        def __init__(self, body: bytes) -> None:
            self.body = body
            self.content = self._lines()

        async def _lines(self):  # type: ignore[no-untyped-def]
            for line in (b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}',):
                yield line

        async def read(self) -> bytes:
            return self.body

        def release(self) -> None:
            pass

    class Transport:  # the gateway's connection pool, as the informer uses it
        async def send(self, method: str, path: str, **_: object) -> Response:
            asked.append(path)
            return Response(b'{"items":[],"metadata":{"resourceVersion":"5"}}')

    informer = InformerCache(SimpleNamespace(transport=Transport())).event_informer

    async def one_round() -> None:
        await informer._relist()
        await informer._watch()

    asyncio.run(one_round())
    assert len(asked) == 2 and all("fieldSelector=involvedObject.apiVersion%3Dfinplane.io%2Fv1alpha1" in p
                                   for p in asked), asked
    assert "watch=true" in asked[1]
