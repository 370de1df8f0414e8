"""Connection limits of `serve` over real sockets: 500 slow clients do not slow normal requests down or grow memory,
and are closed after `server.header_timeout`; a head over `server.max_header_bytes` gets 431; connections beyond
`server.max_connections` get uvicorn's 503; one address holding `server.max_connections_per_client` connections gets
503 for more while other clients are served; a body trickled a byte at a time is closed at `server.request_timeout`
(the tracking API and the login form)."""

from __future__ import annotations

import base64
import http.client
import json
import selectors
import socket
import time

import httpx

from tests.helpers.server import ServeProcess, cloud_config

SLOW_CLIENTS = 500
NORMAL_REQUESTS = 200
AUTH = {"authorization": "Basic " + base64.b64encode(b"wk_conn:").decode()}
SOURCES = [{"name": "conn", "write_key": "wk_conn"}]


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def open_slow_clients(port: int, count: int, addresses: int = 1, first: int = 1) -> list[socket.socket]:
    """Half connect and send nothing; half send part of a request head and then nothing. `addresses`: spread over
    that many loopback addresses from 127.0.0.`first` on (each client address may hold only
    `server.max_connections_per_client` connections)."""
    sockets = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), source_address=(f"127.0.0.{first + i % addresses}", 0))
        if i % 2:
            sock.sendall(b"POST /v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/pl")
        sockets.append(sock)
    return sockets


def wait_all_closed(sockets: list[socket.socket], timeout: float) -> list[bytes]:
    """What each socket received until the server closed it (raises if some stay open past `timeout`)."""
    received = {sock: b"" for sock in sockets}
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    open_ = set(sockets)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                received[sock] += chunk
            else:
                selector.unregister(sock)
                open_.discard(sock)
    assert not open_, f"{len(open_)} slow connections still open after {timeout}s"
    for sock in sockets:
        sock.close()
    return [received[sock] for sock in sockets]


def peek(sock: socket.socket) -> str:
    """`waiting` (open, nothing received), `answered` (bytes to read) or `closed`, without reading."""
    sock.setblocking(False)
    try:
        return "answered" if sock.recv(1, socket.MSG_PEEK) != b"" else "closed"
    except BlockingIOError:
        return "waiting"
    except ConnectionError:
        return "closed"
    finally:
        sock.setblocking(True)


def still_open(sock: socket.socket) -> bool:
    return peek(sock) != "closed"


def waiting(sock: socket.socket) -> bool:
    """Open with nothing received: the server holds the connection, waiting for a request."""
    return peek(sock) == "waiting"


def post_on_a_new_connection(port: int, n: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        body = json.dumps({"userId": "u", "event": "Normal", "properties": {"n": n}})
        connection.request("POST", "/v1/track", body, {**AUTH, "content-type": "application/json"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_slow_clients_neither_delay_normal_requests_nor_grow_memory(tmp_path, sandbox_server):
    config = cloud_config(tmp_path, sandbox_server.api_url(), SOURCES, header_timeout=10)
    server = ServeProcess(config, tmp_path / "serve.log", "--no-worker", "--log-level", "warning")
    try:
        for n in range(50):  # warm up: caches, the store's first pages
            server.http.post("/v1/track", json={"userId": "u", "event": "Warm", "properties": {"n": n}}, headers=AUTH)
        before = rss(server.process.pid)
        slow = open_slow_clients(server.port, SLOW_CLIENTS, addresses=20, first=10)  # 25 a client
        latencies = []
        for n in range(NORMAL_REQUESTS):  # alternately on a kept-alive connection and on a new one
            started = time.monotonic()
            if n % 2:
                status = server.http.post(
                    "/v1/track", json={"userId": "u", "event": "Normal", "properties": {"n": n}}, headers=AUTH
                ).status_code
            else:
                status = post_on_a_new_connection(server.port, n)
            latencies.append(time.monotonic() - started)
            assert status == 200
        during = rss(server.process.pid)
        assert all(still_open(sock) for sock in slow), (
            "slow clients were dropped during the stream: the check means nothing"
        )
        latencies.sort()
        print(
            f"{SLOW_CLIENTS} slow clients: {NORMAL_REQUESTS} normal requests, "
            f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
            f"max {latencies[-1] * 1000:.1f} ms; server RSS {before / 2**20:.0f} → {during / 2**20:.0f} MB"
        )
        assert latencies[-1] < 1.0, latencies[-5:]
        assert during - before < 32 * 1024 * 1024, (before, during)
        # header_timeout ends every slow connection; those that sent part of a head are told why
        answers = wait_all_closed(slow, timeout=40)
        told = [a for a in answers if a]
        assert len(told) == SLOW_CLIENTS // 2
        assert all(a.startswith(b"HTTP/1.1 408 ") and b'"code":"header_timeout"' in a for a in told)
        assert server.http.get("/health").status_code == 200
    finally:
        assert server.stop() in (0, -15), server.log_text()
    assert "Traceback" not in server.log_text()


def test_oversized_heads_get_431_and_extra_connections_503(tmp_path, sandbox_server):
    config = cloud_config(tmp_path, sandbox_server.api_url(), SOURCES, max_connections=30, max_header_bytes=8192)
    server = ServeProcess(config, tmp_path / "serve.log", "--no-worker", "--log-level", "warning")
    try:
        event = {"userId": "u", "event": "Headers"}
        ok = server.http.post("/v1/track", json=event, headers={**AUTH, "x-pad": "p" * 7_000})
        assert ok.status_code == 200
        refused = httpx.post(server.url + "/v1/track", json=event, headers={**AUTH, "x-pad": "p" * 9_000}, timeout=5)
        assert refused.status_code == 431
        assert refused.json()["code"] == "headers_too_large" and "8,192 bytes" in refused.json()["message"]
        assert refused.headers["connection"] == "close"
        # A big body next to small headers is not mistaken for a big head.
        big = server.http.post(
            "/v1/track", content=json.dumps({**event, "properties": {"p": "x" * 30_000}}), headers=AUTH
        )
        assert big.status_code == 200
        held = open_slow_clients(server.port, 30, addresses=3, first=10)
        try:
            time.sleep(0.3)
            assert httpx.post(server.url + "/v1/track", json=event, headers=AUTH, timeout=5).status_code == 503
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 10
        while httpx.post(server.url + "/v1/track", json=event, headers=AUTH, timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover once the connections closed"
            time.sleep(0.1)
    finally:
        assert server.stop() in (0, -15), server.log_text()


def test_one_address_cannot_take_every_connection(tmp_path, sandbox_server):
    """Issue 22 point 6: one client holding `max_connections` slow sockets (reopened as they close) had 290 of 293
    other clients' requests answered 503. Now it holds `max_connections_per_client` and the rest is refused."""
    config = cloud_config(
        tmp_path, sandbox_server.api_url(), SOURCES, max_connections=100, max_connections_per_client=20
    )
    server = ServeProcess(config, tmp_path / "serve.log", "--no-worker", "--log-level", "warning")
    attacker: list[socket.socket] = []
    try:
        for _ in range(100):  # every connection the server has, from one address (127.0.0.7)
            attacker.append(socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.0.7", 0)))
        time.sleep(0.3)
        held = [sock for sock in attacker if waiting(sock)]  # open, and not answered
        assert len(held) == 20, len(held)
        refused = [sock for sock in attacker if sock not in held]
        first = refused[0].recv(4096)
        assert first.startswith(b"HTTP/1.1 503 ") and b'"code":"too_many_connections"' in first
        assert refused[0].recv(4096) == b""  # and closed
        statuses = []
        for n in range(30):  # other clients, each on a new connection from its own address
            connection = http.client.HTTPConnection(
                "127.0.0.1", server.port, timeout=5, source_address=(f"127.0.0.{20 + n}", 0)
            )
            try:
                connection.request("POST", "/v1/track", json.dumps({"userId": "u", "event": "Other"}), AUTH)
                statuses.append(connection.getresponse().status)
            finally:
                connection.close()
        assert statuses == [200] * 30
        for sock in held[:5]:  # a connection given back is one the address may open again
            sock.close()
        time.sleep(0.3)
        again = socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.0.7", 0))
        attacker.append(again)
        time.sleep(0.3)
        assert waiting(again)
    finally:
        for sock in attacker:
            sock.close()
        assert server.stop() in (0, -15), server.log_text()
    assert "Traceback" not in server.log_text()


def trickle(port: int, head: bytes, pace: float, limit: float) -> tuple[float, bytes]:
    """Send `head` then one body byte every `pace` seconds until the server closes the connection (or `limit`
    seconds pass); how long it stayed open and what it answered."""
    sock = socket.create_connection(("127.0.0.1", port))
    started = time.monotonic()
    received = b""
    try:
        sock.sendall(head)
        sock.settimeout(pace)
        while time.monotonic() - started < limit:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                try:
                    sock.sendall(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    break
                continue
            if not chunk:
                break
            received += chunk
        return time.monotonic() - started, received
    finally:
        sock.close()


def test_a_trickled_body_is_closed_at_the_request_timeout(tmp_path, sandbox_server):
    """Issue 22 point 6: a body trickled 1 byte every few seconds was never closed (`body_timeout` is per stall)."""
    config = cloud_config(tmp_path, sandbox_server.api_url(), SOURCES, body_timeout=2, request_timeout=3)
    text = config.read_text().replace("sources:", "admin: {token: test-admin-token-0123456789}\nsources:", 1)
    config.write_text(text)
    server = ServeProcess(config, tmp_path / "serve.log", "--no-worker", "--log-level", "warning")
    try:
        auth = AUTH["authorization"]
        for path, extra in (("/v1/track", f"Authorization: {auth}\r\n"), ("/console/login", "")):
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Content-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 4000\r\n\r\n"
            ).encode()
            took, answer = trickle(server.port, head, pace=1.0, limit=12)
            assert took < 6, (path, took, answer)  # 3 s bound plus a second's pace
            assert answer.startswith(b"HTTP/1.1 408 ") and answer.count(b"HTTP/1.1") == 1, (path, answer)
            assert b"connection: close" in answer.lower(), answer
        assert server.http.get("/health").status_code == 200
    finally:
        assert server.stop() in (0, -15), server.log_text()
