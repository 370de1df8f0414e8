"""The login form and the admin API's JSON endpoints read a body the way the tracking API does (issue 22, point 1):
bytes are counted while they arrive and the request is refused (413) at the limit, whatever Content-Length says or
when there is none, and a body that takes longer in all than `server.body_timeout` is refused (408). On `serve`,
a 256 MB body sent to either (chunked, or announced as 600 MB) leaves the server's memory where it was. (A
Content-Length smaller than the body is cut by uvicorn itself; in-process, the reader refuses it at the limit.)"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions_1flow.admin.api import MAX_BODY
from actions_1flow.admin.auth import MAX_FORM_BYTES
from tests.admin.conftest import TOKEN, AppClient, login, write_config
from tests.helpers.process import peak_rss_mib
from tests.helpers.server import ServeProcess, cloud_config

pytestmark = pytest.mark.anyio


CHUNK = 64 * 1024
ENDLESS = 64 * 1024 * 1024
"""Bytes the client below offers: far more than any limit (and finite, so a reader without a limit ends too)."""


class Client:
    """One request straight into the ASGI app: its body in `chunk`-sized messages, `total` bytes in all (sent as
    fast as asked, or `delay` seconds apart), and every chunk the app asked for counted."""

    def __init__(self, total: int, delay: float = 0.0, chunk: int = CHUNK) -> None:
        self.total, self.delay, self.chunk, self.sent = total, delay, chunk, 0

    async def receive(self) -> dict[str, Any]:
        if self.delay:
            await asyncio.sleep(self.delay)
        size = min(self.chunk, self.total - self.sent)
        self.sent += size
        return {"type": "http.request", "body": b"t" * size, "more_body": self.sent < self.total}

    async def request(self, app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
        }
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await asyncio.wait_for(app(scope, self.receive, send), 30)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


FORM = (b"content-type", b"application/x-www-form-urlencoded")
BEARER = (b"authorization", f"Bearer {TOKEN}".encode())
CASES = {
    "login form": ("/console/login", [FORM], MAX_FORM_BYTES),
    "admin API": ("/admin/api/v1/test-event", [BEARER, (b"content-type", b"application/json")], MAX_BODY),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("framing", ["chunked", "lying content-length"])
async def test_a_body_over_the_limit_is_refused_while_it_arrives(tmp_path, case, framing):
    path, headers, limit = CASES[case]
    if framing == "lying content-length":
        headers = [*headers, (b"content-length", b"100")]  # says 100 bytes, sends without end
    client = Client(ENDLESS)
    app = AppClient(write_config(tmp_path, f"sqlite:///{tmp_path}/events.db"))
    async with app:
        status, body = await client.request(app.app, path, headers)
    assert status == 413, body
    assert client.sent <= limit + CHUNK, f"{client.sent:,} bytes read for a limit of {limit:,}"
    assert f"{limit:,} bytes" in body.decode()
    if case == "admin API":
        assert b'"code":"body_too_large"' in body
    else:  # the form answers as the page, with the reason shown
        assert b"The form was refused" in body and b"<form" in body


@pytest.mark.parametrize("case", list(CASES))
async def test_a_declared_length_over_the_limit_is_refused_before_reading(tmp_path, case):
    path, headers, _ = CASES[case]
    client = Client(ENDLESS)
    app = AppClient(write_config(tmp_path, f"sqlite:///{tmp_path}/events.db"))
    async with app:
        status, body = await client.request(app.app, path, [*headers, (b"content-length", b"629145600")])
    assert status == 413 and client.sent == 0 and b"629,145,600 bytes" in body


@pytest.mark.parametrize("case", list(CASES))
async def test_a_trickled_body_is_refused_after_body_timeout_in_all(tmp_path, case):
    """Each chunk comes well within the stall timeout, but the whole body does not come within `body_timeout`."""
    path, headers, _ = CASES[case]
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/events.db", server={"body_timeout": 1.0})
    client = Client(ENDLESS, delay=0.05, chunk=10)
    app = AppClient(config)
    async with app:
        started = time.monotonic()
        status, body = await client.request(app.app, path, headers)
    assert status == 408 and b"longer than 1s" in body, body
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("case", list(CASES))
async def test_bodies_within_the_limits_still_work(tmp_path, case):
    async with AppClient(write_config(tmp_path, f"sqlite:///{tmp_path}/events.db")) as http:
        if case == "login form":
            answer = await http.post("/console/login", data={"token": TOKEN, "next": "/console"})
            assert answer.status_code == 303
        else:
            answer = await http.post(
                "/admin/api/v1/test-event",
                json={"event": {"type": "track", "event": "x" * (MAX_BODY - 200), "userId": "u"}},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert answer.status_code == 200, answer.text


# --- on `serve`: the memory stays where it was ------------------------------------------------------------------

ATTACK_BYTES = 256 * 1024 * 1024


def _post_endlessly(port: int, path: str, headers: str) -> bytes:
    """Send a request head, then body bytes until `ATTACK_BYTES` or until the server answers or closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    chunk = b"t" * (1024 * 1024)
    chunked = "transfer-encoding: chunked" in headers
    sent = 0
    try:
        while sent < ATTACK_BYTES:
            sock.sendall(b"100000\r\n" + chunk + b"\r\n" if chunked else chunk)
            sent += len(chunk)
    except OSError:  # the server answered and closed: what it said is in the socket
        pass
    sock.settimeout(10)
    answer = b""
    try:
        while part := sock.recv(65536):
            answer += part
            if b"\r\n\r\n" in answer:
                break
    except OSError:
        pass
    sock.close()
    return answer


@pytest.mark.parametrize("framing", ["chunked", "declared 600 MB"])
def test_a_huge_body_leaves_the_servers_memory_where_it_was(tmp_path, sandbox_server, framing):
    path = cloud_config(tmp_path, sandbox_server.api_url(), [{"name": "web", "write_key": "wk_body"}])
    config = yaml.safe_load(path.read_text())
    config["admin"] = {"token": TOKEN}
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
    server = ServeProcess(path, tmp_path / "serve.log", "--no-worker", "--log-level", "warning")
    framing_header = "transfer-encoding: chunked" if framing == "chunked" else "content-length: 629145600"
    try:
        for _ in range(20):  # warm up both routes
            server.http.post("/console/login", data={"token": TOKEN, "next": "/console"})
            server.http.post(
                "/admin/api/v1/test-event", json={"event": {}}, headers={"authorization": "Bearer " + TOKEN}
            )
        before = peak_rss_mib(server.process.pid)
        login = _post_endlessly(
            server.port, "/console/login", f"content-type: application/x-www-form-urlencoded\r\n{framing_header}\r\n"
        )
        api = _post_endlessly(
            server.port,
            "/admin/api/v1/test-event",
            f"authorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\n{framing_header}\r\n",
        )
        after = peak_rss_mib(server.process.pid)
        print(f"{framing}: peak RSS {before:.0f} → {after:.0f} MiB for two {ATTACK_BYTES >> 20} MiB bodies")
        assert login.startswith(b"HTTP/1.1 413 "), login[:300]
        assert api.startswith(b"HTTP/1.1 413 ") and b"body_too_large" in api, api[:300]
        assert after - before < 32, f"peak RSS {before:.0f} → {after:.0f} MiB"
        assert server.http.get("/health").status_code == 200
    finally:
        assert server.stop() in (0, -15), server.log_text()


async def test_a_console_form_over_the_limit_is_refused_before_its_csrf_token_is_read(tmp_path):
    """The CSRF check reads a form body (no `X-CSRF-Token` header) with the same bounded reader: 413 as JSON."""
    app = AppClient(write_config(tmp_path, f"sqlite:///{tmp_path}/events.db"))
    async with app as http:
        await login(http)
        answer = await http.post(
            "/console/logout",
            content=b"csrf_token=" + b"x" * (MAX_FORM_BYTES * 2),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 413, answer.text
        assert answer.json()["code"] == "body_too_large" and f"{MAX_FORM_BYTES:,} bytes" in answer.json()["message"]
        assert (await http.get("/admin/api/v1/session")).status_code == 200  # not logged out
