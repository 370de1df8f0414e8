"""Malformed HTTP on a real socket (uvicorn + httptools in front of the app): lying Content-Length, broken
chunking, odd methods and headers. Every answer is a 4xx (ours as JSON; uvicorn's own for unparseable HTTP),
nothing half-read is stored, and the server keeps serving."""

from __future__ import annotations

import base64
import json
import re
import socket

import httpx
import pytest

AUTH = "Basic " + base64.b64encode(b"wk_python:").decode()


def exchange(server, raw: bytes, *, half_close: bool = False, timeout: float = 3.0) -> list[tuple[int, bytes]]:
    """Send raw bytes; return (status, body) of every response read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    responses = []
    for match in re.finditer(rb"HTTP/1\.1 (\d{3}) [^\r]*\r\n(.*?)\r\n\r\n", data, re.S):
        length = re.search(rb"(?i)content-length: (\d+)", match.group(2))
        start = match.end()
        responses.append((int(match.group(1)), data[start : start + int(length.group(1))] if length else b""))
    return responses


def request(path: str, body: bytes, *headers: str, method: str = "POST") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: {AUTH}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def assert_all_4xx(responses: list[tuple[int, bytes]]) -> None:
    assert responses, "no response"
    for status, _ in responses:
        assert 400 <= status < 500, responses


def event(tag: str) -> bytes:
    return json.dumps({"userId": "u", "event": tag}).encode()


def stored_events(server) -> int:
    import sqlite3

    path = server.log_path.parent / "events.db"
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM events WHERE body LIKE '%edge-case%'").fetchone()[0]


@pytest.fixture
def server(tracking_server):
    before = stored_events(tracking_server)
    yield tracking_server
    assert stored_events(tracking_server) == before, "a refused request stored something"
    assert (
        httpx.post(
            f"{tracking_server.url}/v1/track", json={"userId": "u", "event": "alive", "writeKey": "wk_python"}
        ).status_code
        == 200
    )
    assert "Traceback" not in tracking_server.log_text()


def test_content_length_longer_than_the_body(server):
    """The client waits for an answer to a body it never finishes: 408 once the body stalls (1 s in this config)."""
    body = event("edge-case")
    [(status, answer)] = exchange(server, request("/v1/track", body, f"Content-Length: {len(body) + 50}"), timeout=10)
    assert status == 408 and json.loads(answer)["code"] == "body_timeout"


def test_content_length_longer_than_the_body_then_hang_up(server):
    body = event("edge-case")
    responses = exchange(server, request("/v1/track", body, f"Content-Length: {len(body) + 50}"), half_close=True)
    assert responses == []  # the client is gone before its body is complete: nothing to answer, nothing stored


def test_content_length_shorter_than_the_body(server):
    body = event("edge-case")
    responses = exchange(server, request("/v1/track", body, f"Content-Length: {len(body) - 5}", "Connection: close"))
    assert_all_4xx(responses)
    assert json.loads(responses[0][1])["code"] == "invalid_json"


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "99999999999999999999999"])
def test_content_length_not_a_number(server, length):
    assert_all_4xx(exchange(server, request("/v1/track", event("edge-case"), f"Content-Length: {length}")))


def test_content_length_over_the_limit_is_refused_before_reading(server):
    responses = exchange(server, request("/v1/batch", b"{", "Content-Length: 50000000", "Connection: close"))
    assert_all_4xx(responses)
    assert json.loads(responses[0][1])["code"] == "batch_too_large"


def test_broken_chunked_encoding(server):
    raw = request("/v1/track", b"zz\r\n" + event("edge-case") + b"\r\n0\r\n\r\n", "Transfer-Encoding: chunked")
    assert_all_4xx(exchange(server, raw))


def test_chunked_body_cut_off(server):
    body = event("edge-case")
    raw = request("/v1/track", f"{len(body) + 10:x}\r\n".encode() + body, "Transfer-Encoding: chunked")
    assert exchange(server, raw, half_close=True) == []


def test_content_length_and_chunked_together(server):
    body = event("edge-case")
    raw = request(
        "/v1/track",
        f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n",
        "Transfer-Encoding: chunked",
        "Content-Length: 3",
    )
    assert_all_4xx(exchange(server, raw))


def test_garbage_instead_of_http(server):
    assert_all_4xx(exchange(server, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n"))


def test_head_and_unknown_methods(server):
    [(status, body)] = exchange(server, request("/v1/track", b"", "Connection: close", method="HEAD"))
    assert status == 405 and body == b""
    [(status, body)] = exchange(
        server, request("/v1/track", b"", "Content-Length: 0", "Connection: close", method="PROPFIND")
    )
    assert status == 405 and json.loads(body)["code"] == "method_not_allowed"
    assert_all_4xx(exchange(server, request("/v1/track", b"", "Content-Length: 0", method="BREW")))  # not HTTP


def test_non_latin_header_bytes(server):
    raw = request("/v1/track", event("edge-case"), f"Content-Length: {len(event('edge-case'))}", "Connection: close")
    raw = raw.replace(b"Authorization: Basic", b"Authorization: Basic \xff\xfe")
    [(status, body)] = exchange(server, raw)
    assert status == 401 and json.loads(body)["code"] == "invalid_authorization"


def test_pipelined_requests_on_one_connection(server):
    good = json.dumps({"userId": "u", "event": "pipelined"}).encode()
    raw = b"".join(request("/v1/track", body, f"Content-Length: {len(body)}") for body in (good, b"{bad", good))
    raw += request("/v1/track", good, f"Content-Length: {len(good)}", "Connection: close")
    statuses = [status for status, _ in exchange(server, raw)]
    assert statuses == [200, 400, 200, 200]
