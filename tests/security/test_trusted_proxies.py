"""Forwarded headers against a real `serve` (issue 22 points 3 and 11): `X-Forwarded-For` and `X-Forwarded-Proto`
are believed only from `server.trusted_proxies`. Without it a client cannot pick the address the login throttle
counts or the `context.ip` stored; behind a configured proxy both come from the proxy's header, and the session
cookie keeps `Secure` when the proxy says the page came over https."""

from __future__ import annotations

import time

import httpx

from actions_1flow.admin import exposure_warning
from actions_1flow.admin.auth import MAX_FAILURES
from tests.helpers.server import ServeProcess, admin_config

TOKEN = "proxy-test-admin-token-0123456789"
WRITE_KEY = "wk_proxy"


def serve(tmp_path, *extra: str, **server) -> ServeProcess:
    config = admin_config(tmp_path, TOKEN, WRITE_KEY, **server)
    return ServeProcess(config, tmp_path / "serve.log", "--no-worker", *extra)


def stored_ip(server: ServeProcess, message_id: str, forwarded_for: str) -> str | None:
    sent = server.http.post(
        "/v1/track",
        json={"userId": "u", "event": "E", "messageId": message_id, "writeKey": WRITE_KEY},
        headers={"x-forwarded-for": forwarded_for},
    )
    assert sent.status_code == 200
    deadline = time.monotonic() + 5
    while True:
        found = server.http.get(f"/admin/api/v1/events/{message_id}", headers={"authorization": f"Bearer {TOKEN}"})
        if found.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found.status_code == 200, found.text
    return found.json()["event"].get("context", {}).get("ip")


def login(server: ServeProcess, token: str, **headers: str) -> httpx.Response:
    return httpx.post(
        server.url + "/console/login", data={"token": token}, headers=headers, follow_redirects=False, timeout=5
    )


def test_without_trusted_proxies_forwarded_headers_are_ignored(tmp_path):
    server = serve(tmp_path, "--host", "0.0.0.0")  # (and the console on every address: warned about, point 11)
    try:
        assert stored_ip(server, "m-direct", "203.0.113.9") == "127.0.0.1"  # the peer, not the claim
        # rotating X-Forwarded-For does not escape the throttle: every try is 127.0.0.1's
        answers = [login(server, "wrong", **{"x-forwarded-for": f"198.51.100.{n}"}).status_code for n in range(8)]
        assert answers == [401] * MAX_FAILURES + [429] * (8 - MAX_FAILURES)
        # a claimed https does not mark the cookie Secure on a plain-http connection from anyone
        cookie = login(server, TOKEN, **{"x-forwarded-proto": "https"}).headers["set-cookie"].lower()
        assert "secure" not in cookie
    finally:
        server.stop()
    warning = "the console and the admin API are served on the public address 0.0.0.0 (server.host)"
    assert warning in server.log_text() and "admin.listen: 127.0.0.1:9090" in server.log_text()


def test_behind_a_trusted_proxy_its_headers_give_the_address_and_the_scheme(tmp_path):
    server = serve(tmp_path, trusted_proxies=["127.0.0.0/8"])
    try:
        assert stored_ip(server, "m-proxied", "203.0.113.9") == "203.0.113.9"
        # a victim's address used by someone else: the victim's wrong tries are 429, their right token works
        victim = {"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"}
        answers = [login(server, "wrong", **victim).status_code for _ in range(MAX_FAILURES + 1)]
        assert answers == [401] * MAX_FAILURES + [429]
        assert login(server, "wrong", **{"x-forwarded-for": "198.51.100.8"}).status_code == 401  # others: own count
        answer = login(server, TOKEN, **victim)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie  # the proxy said https
    finally:
        server.stop()
    assert "the console and the admin API are served on" not in server.log_text()  # loopback only: no warning


def test_the_exposure_warning_names_where_and_the_fix():
    assert exposure_warning("127.0.0.1", None, True) is None
    assert exposure_warning("::1", None, True) is None and exposure_warning("localhost", None, True) is None
    assert exposure_warning("0.0.0.0", None, False) is None  # no admin section: nothing served
    assert exposure_warning("0.0.0.0", ("127.0.0.1", 9090), True) is None  # on its own loopback listener
    assert "admin.listen 10.0.0.4" in (exposure_warning("127.0.0.1", ("10.0.0.4", 9090), True) or "")
    assert "public address :: (server.host)" in (exposure_warning("::", None, True) or "")
