"""Console and admin API authentication: 302/401 without a session, login → session, CSRF on state-changing
requests, Bearer tokens, the login throttle, logout, expiry, and 404 everywhere without an `admin` section."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from actions_1flow.admin.auth import COOKIE, MAX_FAILURES, MAX_FAILURES_TOTAL, REVOCATION_REFRESH_S
from tests.admin.conftest import TOKEN, AppClient, bearer, login, write_config

pytestmark = pytest.mark.anyio


async def test_without_session_pages_redirect_and_api_answers_401(sqlite_config):
    async with AppClient(sqlite_config) as client:
        r = await client.get("/admin/api/v1/session")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        r = await client.get("/console/login")
        assert r.status_code == 200 and 'name="token"' in r.text
        assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_login_sets_a_strict_httponly_cookie_and_opens_the_api(sqlite_config):
    async with AppClient(sqlite_config) as client:
        r = await client.post("/console/login", data={"token": TOKEN, "next": "/console/events"})
        assert r.status_code == 303 and r.headers["location"] == "/console/events"
        cookie = r.headers["set-cookie"].lower()
        assert (
            COOKIE in cookie and "httponly" in cookie and "samesite=strict" in cookie and "max-age=43200" in cookie
        )  # 12 h
        assert "secure" not in cookie  # plain http here
        info = (await client.get("/admin/api/v1/session")).json()
        assert info["via"] == "session" and len(info["csrf"]) > 20 and info["expires_at"] > 0


async def test_login_never_redirects_off_the_console(sqlite_config):
    async with AppClient(sqlite_config) as client:
        r = await client.post("/console/login", data={"token": TOKEN, "next": "https://evil.example/"})
        assert r.headers["location"] == "/console"
        client.cookies.clear()
        r = await client.post("/console/login", data={"token": TOKEN, "next": "//evil.example/console"})
        assert r.headers["location"] == "/console"


async def test_a_forged_or_tampered_cookie_is_no_session(sqlite_config):
    async with AppClient(sqlite_config) as client:
        await login(client)
        value = client.cookies[COOKIE]
        payload, _, sig = value.partition(".")
        client.cookies.clear()
        client.cookies.set(COOKIE, payload + "." + sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB"))
        assert (await client.get("/admin/api/v1/session")).status_code == 401


async def test_state_changing_request_with_session_needs_csrf(sqlite_config):
    async with AppClient(sqlite_config) as client:
        csrf = await login(client)
        r = await client.post("/admin/api/v1/replay", json={"since": "1h", "dry_run": True})
        assert r.status_code == 403 and r.json()["code"] == "csrf"
        r = await client.post(
            "/admin/api/v1/replay", json={"since": "1h", "dry_run": True}, headers={"X-CSRF-Token": "wrong"}
        )
        assert r.status_code == 403
        r = await client.post(
            "/admin/api/v1/replay", json={"since": "1h", "dry_run": True}, headers={"X-CSRF-Token": csrf}
        )
        assert r.status_code == 200, r.text


async def test_bearer_token_needs_no_csrf_and_a_wrong_one_is_401(sqlite_config):
    async with AppClient(sqlite_config) as client:
        r = await client.post("/admin/api/v1/replay", json={"since": "1h", "dry_run": True}, headers=bearer())
        assert r.status_code == 200 and r.json()["count"] == 0 and r.json()["dry_run"] is True
        r = await client.get("/admin/api/v1/session", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401


async def test_repeated_bad_logins_are_throttled_with_retry_after_but_the_right_token_works(sqlite_config):
    """Issue 22 point 3: 5 wrong tokens from a victim's address locked the victim out while they held the right
    token. The address's wrong tokens get 429; the right token still logs in (form and Bearer)."""
    async with AppClient(sqlite_config) as client:
        for _ in range(MAX_FAILURES):
            r = await client.post("/console/login", data={"token": "wrong-token"})
            assert r.status_code == 401 and "Wrong token" in r.text
        r = await client.post("/console/login", data={"token": "wrong-token"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "the right token still works" in r.text
        r = await client.get("/admin/api/v1/session", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
        assert (await client.get("/admin/api/v1/session", headers=bearer())).status_code == 200
        r = await client.post("/console/login", data={"token": TOKEN})
        assert r.status_code == 303


async def test_the_global_failure_budget_stops_every_guess_then_lets_the_right_token_in(sqlite_config):
    """Issue 22 point 3: 1,000 guesses from 200 addresses in 5.7 s met no bound. Past MAX_FAILURES_TOTAL wrong
    tokens from all addresses no token is compared, the right one neither, until the window moves on."""
    app = AppClient(sqlite_config)
    async with app:
        throttle = app.app.state.admin_auth.throttle
        now = [1000.0]
        throttle._clock = lambda: now[0]
        for n in range(MAX_FAILURES_TOTAL):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app.app, client=(f"10.0.{n // 250}.{n % 250}", 1234)),
                base_url="http://testserver",
            ) as guesser:
                r = await guesser.post("/console/login", data={"token": f"guess-{n}"})
                assert r.status_code == 401, n
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app.app, client=("192.0.2.1", 1234)), base_url="http://testserver"
        ) as operator:
            r = await operator.post("/console/login", data={"token": TOKEN})
            assert r.status_code == 429 and "no token is checked" in r.text
            assert int(r.headers["retry-after"]) == 300
            assert (await operator.get("/admin/api/v1/session", headers=bearer())).status_code == 429
            now[0] += 301  # the window moved on
            assert (await operator.post("/console/login", data={"token": TOKEN})).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": "http://testserver"},
    ],
    ids=["other-origin", "null-origin", "cross-site", "same-site"],
)
async def test_a_login_posted_by_another_site_is_refused(sqlite_config, headers):
    """Issue 22 point 3: any page the operator visited could post wrong tokens in their name (and keep them
    throttled). A cross-site POST is refused before the token is looked at, and counts as no failure."""
    async with AppClient(sqlite_config) as client:
        for _ in range(MAX_FAILURES + 1):
            r = await client.post("/console/login", data={"token": "wrong"}, headers=headers)
            assert r.status_code == 403 and "Open /console/login on this server" in r.text
        r = await client.post("/console/login", data={"token": TOKEN}, headers=headers)
        assert r.status_code == 403 and COOKIE not in r.headers.get("set-cookie", "")
        for _ in range(MAX_FAILURES):  # none of the refused posts counted
            assert (await client.post("/console/login", data={"token": "wrong"})).status_code == 401


async def test_a_login_from_the_consoles_own_page_passes(sqlite_config):
    async with AppClient(sqlite_config) as client:
        own = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
        assert (await client.post("/console/login", data={"token": TOKEN}, headers=own)).status_code == 303
        client.cookies.clear()
        typed = {"sec-fetch-site": "none"}  # the operator typed it (or a bookmark): no Origin
        assert (await client.post("/console/login", data={"token": TOKEN}, headers=typed)).status_code == 303


async def test_logout_needs_csrf_and_ends_the_session(sqlite_config):
    async with AppClient(sqlite_config) as client:
        csrf = await login(client)
        cookie = client.cookies[COOKIE]
        assert (await client.post("/console/logout")).status_code == 403
        r = await client.post("/console/logout", data={"csrf_token": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
        client.cookies.set(COOKIE, cookie)  # the old cookie, replayed: revoked
        assert (await client.get("/admin/api/v1/session")).status_code == 401


async def test_an_expired_session_is_no_session(tmp_path):
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/e.db", admin={"token": TOKEN, "session_ttl": "12h"})
    app = AppClient(path)
    async with app as client:
        await login(client)
        auth = app.app.state.admin_auth
        real = auth.clock
        auth.clock = lambda: real() + 12 * 3600 + 1
        assert (await client.get("/admin/api/v1/session")).status_code == 401


async def test_without_admin_section_every_console_and_admin_path_is_404(tmp_path):
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/n.db", admin=None)
    async with AppClient(path) as client:
        for url in ("/console", "/console/login", "/admin/api/v1/overview", "/admin/api/v1/session"):
            r = await client.get(url, headers=bearer())
            assert r.status_code == 404, url


async def test_console_pages_redirect_to_the_login_form_without_a_session(sqlite_config):
    async with AppClient(sqlite_config) as client:
        r = await client.get("/console/events?destination=x")
        assert (
            r.status_code == 302
            and r.headers["location"] == "/console/login?next=%2Fconsole%2Fevents%3Fdestination%3Dx"
        )
        await login(client)
        assert (await client.get("/console/events")).status_code == 200


async def test_a_logged_out_session_stays_out_after_a_restart(tmp_path, storage_url):
    """Issue 22 point 4: revocations lived in one process; the logged-out cookie worked again after a restart."""
    path = write_config(tmp_path, storage_url)
    async with AppClient(path) as client:
        csrf = await login(client)
        cookie = client.cookies[COOKIE]
        assert (await client.post("/console/logout", data={"csrf_token": csrf})).status_code == 303
    async with AppClient(path) as client:  # the same store, a new process's state
        client.cookies.set(COOKIE, cookie)
        assert (await client.get("/admin/api/v1/session")).status_code == 401
        assert (await client.get("/console/events")).status_code == 302


async def test_a_logout_on_one_server_holds_on_the_other(tmp_path, pg_url):
    """Issue 22 point 4: on a PostgreSQL set-up the other server took the logged-out cookie at once."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    a, b = write_config(tmp_path / "a", pg_url), write_config(tmp_path / "b", pg_url)
    async with AppClient(a) as one, AppClient(b) as other:
        csrf = await login(one)
        cookie = one.cookies[COOKIE]
        other.cookies.set(COOKIE, cookie)
        assert (await other.get("/admin/api/v1/session")).status_code == 200  # one session, good on both
        assert (await one.post("/console/logout", data={"csrf_token": csrf})).status_code == 303
        deadline = time.monotonic() + REVOCATION_REFRESH_S + 3
        while (await other.get("/admin/api/v1/session")).status_code != 401:
            assert time.monotonic() < deadline, "the other server still takes the logged-out session"
            await anyio.sleep(0.1)
