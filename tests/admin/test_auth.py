"""Console and admin API authentication: 302/401 without a session, login → session, CSRF on state-changing
requests, Bearer tokens, the login throttle, logout, expiry, and 404 everywhere without an `admin` section."""

from __future__ import annotations

import pytest

from actions_1flow.admin.auth import COOKIE, MAX_FAILURES
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


async def test_repeated_bad_logins_are_throttled_with_retry_after(sqlite_config):
    async with AppClient(sqlite_config) as client:
        for _ in range(MAX_FAILURES):
            r = await client.post("/console/login", data={"token": "wrong-token"})
            assert r.status_code == 401 and "Wrong token" in r.text
        r = await client.post("/console/login", data={"token": TOKEN})  # even the right one, until the window passes
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        r = await client.get("/admin/api/v1/session", headers=bearer())
        assert r.status_code == 429


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
