"""Request-body and method attacks, as an anonymous client (or a team with a token) would try them:
a declared 48 MiB body is refused with 413 before a byte of it is read and before authentication; a
chunked body without Content-Length is cut off with 413 at the limit (over real HTTP too); the limit is
configurable; a 900-deep JSON body is a 400, not a RecursionError 500 (nesting inside strings does not
count); invented HTTP methods get 405 and share one ``OTHER`` label in /metrics; NUL, C0/C1 controls,
bidirectional overrides and zero-width characters in names and free text are refused with a 422 naming
the field (after authentication: an anonymous client still gets 401), tab and newline stay allowed;
an extension date that cannot be converted to UTC is a 422."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from platform_api.app import create_app
from platform_api.cache import MemoryCache
from platform_api.middleware.body_limit import BodyLimit
from platform_api.middleware.json_depth import exceeds_depth
from platform_api.settings import ApiSettings

MiB = 1024 * 1024
CAPS = "/api/v1/teams/payments/capabilities"
PAT = {"role": "team", "team": "payments", "subject": "pat"}


def _deep(depth: int) -> bytes:
    """A capability body nested ``depth`` levels deep (a spec of nested objects: a 500 before the limit)."""
    return b'{"name": "x", "spec": ' + b'{"a": ' * (depth - 1) + b"1" + b"}" * (depth - 1) + b"}"


# Size: declared, streamed, configurable, before authentication.

class _Recorder:
    """An ASGI app that records whether it was called and drains the body like FastAPI would."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b"unauthorized"})


def _run(app: Any, *, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int, list[Any]]:
    """Call ``app`` with a body in ``chunks``; return the status, how many chunks were read, what was sent."""
    read = 0
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": CAPS, "headers": headers, "client": ("203.0.113.1", 1)}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], read, sent


def test_a_declared_48_mib_body_is_refused_before_a_byte_is_read_or_the_app_runs():
    inner = _Recorder()
    chunk = b"x" * MiB
    status, read, sent = _run(BodyLimit(inner, max_bytes=MiB),
                              headers=[(b"content-length", str(48 * MiB).encode())], chunks=[chunk] * 48)
    assert (status, read, inner.called) == (413, 0, False)
    assert (b"connection", b"close") in sent[0]["headers"]


def test_a_chunked_body_is_cut_off_at_the_limit_and_answered_413_whatever_the_app_says():
    inner = _Recorder()
    status, read, _ = _run(BodyLimit(inner, max_bytes=MiB), headers=[(b"transfer-encoding", b"chunked")],
                           chunks=[b"x" * (256 * 1024)] * 192)  # 48 MiB announced by nobody
    assert status == 413
    assert read == 5  # the fifth 256 KiB chunk crosses 1 MiB: nothing after it is read


def test_conflicting_content_lengths_are_refused():
    status, read, _ = _run(BodyLimit(_Recorder(), max_bytes=MiB),
                           headers=[(b"content-length", b"10"), (b"content-length", b"20")], chunks=[b"x" * 10])
    assert (status, read) == (400, 0)


def test_an_oversized_body_gets_413_before_authentication(client):
    resp = client.post(CAPS, content=b"{" + b" " * (MiB + 10) + b"}", headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["reason"] == "BodyTooLarge"
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_the_body_limit_is_configurable(settings, as_):
    app = create_app(settings.model_copy(update={"max_body_bytes": 4096}), cache=MemoryCache(), writer=object())
    with TestClient(app, raise_server_exceptions=False) as c:
        big = {"name": "pay", "spec": {"description": "d" * 5000}}
        assert c.post(CAPS, json=big, headers=as_(**PAT)).status_code == 413
        small = {"name": "pay", "spec": {"description": "d" * 100}}
        assert c.post(CAPS, json=small, headers=as_(**PAT)).status_code != 413


def test_the_default_body_limit_is_one_mib():
    assert ApiSettings().max_body_bytes == MiB


@pytest.fixture
def live(settings: ApiSettings) -> Iterator[tuple[str, int]]:
    """The API served by uvicorn on a free port (a real HTTP server: chunked bodies arrive as they are sent)."""
    app = create_app(settings, cache=MemoryCache(), writer=object())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_over_http_a_chunked_48_mib_upload_is_answered_413_long_before_it_is_sent(live):
    sock = socket.create_connection(live, timeout=10)
    sock.sendall(f"POST {CAPS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n".encode())
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
    sent = 0
    answer = b""
    try:
        while sent < 48 * MiB:
            sock.sendall(chunk)
            sent += 64 * 1024
            sock.settimeout(0 if sent < 2 * MiB else 0.05)
            try:
                answer += sock.recv(65536)
            except (BlockingIOError, TimeoutError):
                continue
            if answer:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed the connection after answering
    sock.settimeout(5)
    while b"\r\n\r\n" not in answer:
        more = sock.recv(65536)
        if not more:
            break
        answer += more
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 8 * MiB  # answered while most of the 48 MiB was still unsent


# Depth.

def test_a_900_deep_json_body_is_a_400_not_a_500(client, as_):
    for headers in ({}, as_(**PAT)):
        resp = client.post(CAPS, content=_deep(900), headers={**headers, "Content-Type": "application/json"})
        assert resp.status_code == 400, resp.text
        assert resp.json()["reason"] == "JsonTooDeep"


def test_a_deep_body_without_content_type_is_checked_too(client, as_):
    resp = client.post(CAPS, content=_deep(900), headers=as_(**PAT))
    assert resp.status_code == 400


def test_the_depth_limit_is_configurable_and_counts_only_structure(settings, as_):
    app = create_app(settings.model_copy(update={"max_json_depth": 8}), cache=MemoryCache(), writer=object())
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.post(CAPS, content=_deep(8), headers={**as_(**PAT), "Content-Type": "application/json"}) \
            .status_code != 400
        assert c.post(CAPS, content=_deep(9), headers={**as_(**PAT), "Content-Type": "application/json"}) \
            .json()["reason"] == "JsonTooDeep"


@pytest.mark.parametrize(("body", "too_deep"), [
    (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[["}', False),
    (b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[["}', False),
    (b'{"a\\\\": [[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]}', True),
    (b'["\\\\\\"", [[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]', True),
    (b'"unterminated [[[[[[[[[[[[[[[[[[[[[[[[[', False),
    (b"[]" * 1000, False),
])
def test_depth_is_measured_outside_strings(body, too_deep):
    assert exceeds_depth(body, 16) is too_deep


def test_the_depth_scan_stays_linear_on_a_pathological_body():
    body = b'"\\"' * 300_000  # an unterminated string full of escaped quotes: a naive regex is quadratic
    assert exceeds_depth(body, 16) is False  # a quadratic scan of these 900 KB would take hours


# Methods.

def _method_labels(text: str) -> set[str]:
    return set(re.findall(r'^finplane_api_requests_total\{method="([^"]*)"', text, flags=re.MULTILINE))


def test_invented_methods_get_405_and_share_one_metrics_label(client):
    for i in range(25):
        resp = client.request(f"X-INVENTED-{i}", "/api/v1/channels")
        assert resp.status_code == 405
        assert resp.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    client.request("PROPFIND", "/healthz")
    labels = _method_labels(client.get("/metrics").text)
    assert "OTHER" in labels
    assert labels <= {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "OTHER"}


# Characters in names and free text.

@pytest.mark.parametrize(("text", "code"), [
    ("pay\x00ments", "U+0000"), ("line\x1bsplit", "U+001B"), ("c1\x85control", "U+0085"), ("del\x7f", "U+007F"),
    ("evil\u202egnp.exe", "U+202E"), ("isolate\u2066x", "U+2066"), ("zero\u200bwidth", "U+200B"),
    ("bom\ufeff", "U+FEFF"),
])
def test_control_and_format_characters_in_free_text_are_refused_naming_the_field(client, as_, text, code):
    body = {"name": "pay", "spec": {"description": text, "owner": {"team": "payments", "contact": "p@b.example"}}}
    resp = client.post(CAPS, json=body, headers=as_(**PAT))
    assert resp.status_code == 422, resp.text
    assert resp.json()["reason"] == "ForbiddenCharacter"
    (error,) = resp.json()["errors"]
    assert error["field"] == "body.spec.description"
    assert code in error["message"]


def test_a_control_character_in_a_key_or_a_nested_list_is_refused(client, as_):
    body = {"name": "pay", "spec": {"config": {"A\x00B": "1"}, "secretRefs": [{"name": "ok"}, {"name": "x\u202e"}]}}
    resp = client.post(CAPS, json=body, headers=as_(**PAT))
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["body.spec.config.'A\\x00B'", "body.spec.secretRefs.1.name"]


def test_sandbox_partner_details_and_decision_comments_are_checked(client, as_, make_sandbox_spec):
    spec = make_sandbox_spec("acme")
    spec["partner"]["organisation"] = "Acme\u202e Ltd"
    resp = client.post("/api/v1/sandboxes", json={"name": "acme-sbx", "spec": spec, "termsAccepted": True},
                       headers=as_(role="partner", partner="acme", subject="acme-bot"))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "body.spec.partner.organisation"
    resp = client.post("/api/v1/sandboxes/whatever/reject", json={"comment": "no\x00"},
                       headers=as_(role="admin", subject="ada"))
    assert (resp.status_code, resp.json()["errors"][0]["field"]) == (422, "body.comment")


def test_an_anonymous_client_gets_401_not_a_hint_about_its_body(client):
    resp = client.post(CAPS, json={"name": "pay", "spec": {"description": "\x00"}})
    assert resp.status_code == 401


def test_tab_and_newline_stay_allowed_in_free_text(client, as_):
    body = {"name": "pay", "spec": {"description": "line one\n\tline two\r\n"}}
    resp = client.post(CAPS, json=body, headers=as_(**PAT))
    assert resp.json().get("reason") != "ForbiddenCharacter"


@pytest.mark.parametrize("expires", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00", "99999-01-01T00:00:00Z"])
def test_an_extension_date_out_of_range_is_a_422(client, as_, make_sandbox_spec, expires):
    partner = {"role": "partner", "partner": "acme", "subject": "acme-bot"}
    client.post("/api/v1/sandboxes", headers=as_(**partner),
                json={"name": "acme-sbx", "spec": make_sandbox_spec("acme"), "termsAccepted": True})
    resp = client.post("/api/v1/sandboxes/acme-sbx/extension", headers=as_(**partner),
                       json={"expiresAt": expires, "reason": "longer pilot"})
    assert resp.status_code == 422, resp.text
