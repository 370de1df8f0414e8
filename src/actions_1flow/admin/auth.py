"""Who may use the console and the admin API: the `admin.token` of the configuration, typed once at
`/console/login` (then a signed session cookie) or sent as `Authorization: Bearer <token>` (API and `/metrics`).

- The token is compared in constant time. Wrong tokens (login form or Bearer) are counted per client address and
  in all (`LoginThrottle.attempt`): past `MAX_FAILURES` from one address within `FAILURE_WINDOW` seconds its wrong
  tokens get 429 and `Retry-After`, but the right token still works; past `MAX_FAILURES_TOTAL` from all addresses no
  token is compared until the window moves on (the bound on guessing). The client address is the connection's, or
  `X-Forwarded-For`'s from a `server.trusted_proxies` address only (uvicorn's proxy headers, set up by `serve`).
- The login form refuses a POST another site's page made (`Sec-Fetch-Site`, `Origin`): 403.
- The session is a cookie `actions_1flow_console`: `<payload>.<HMAC-SHA256>` where the payload holds the expiry,
  a CSRF token and a random id; the key is derived from the admin token, so changing the token (and reloading)
  ends every session. HttpOnly, SameSite=Strict, Path=/, Secure when the request came over TLS (or a trusted
  proxy says it did). Logging out revokes the session id in this process at once and in the store's
  `revoked_sessions` table (pruned at expiry), which every server of the store reads at start and every
  `REVOCATION_REFRESH_S` seconds, and deletes the cookie.
- Every state-changing request made with a session (any method but GET/HEAD/OPTIONS) must carry the session's
  CSRF token as the `X-CSRF-Token` header or the `csrf_token` form field: else 403 JSON. A Bearer request needs
  none (a browser never adds that header by itself).

For pages (the console): `require_page_session(request)` returns the `Session` or a redirect to the login form,
`csrf_token(request)` the token to render into the page. For the API: `authenticate_api(request)` returns the
`Principal` or the 401/403/429 answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..ingest import IngestError
from ..pipeline import StoreError
from ..service.bodies import read_body

if TYPE_CHECKING:
    from ..config import AdminConfig
    from ..service.state import ServerState

log = logging.getLogger("actions_1flow.admin")

COOKIE = "actions_1flow_console"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FAILURES = 5
"""Wrong tokens one client address may send within `FAILURE_WINDOW` seconds; its next wrong ones get 429 (the right
token still works: a spoofed or shared address cannot lock the operator out)."""
MAX_FAILURES_TOTAL = 100
"""Wrong tokens from all addresses within `FAILURE_WINDOW`: past it no token is compared (429 for everyone, the
right one too) until the oldest failure leaves the window. This is what bounds guessing."""
FAILURE_WINDOW = 300.0
REVOCATION_REFRESH_S = 2.0
"""How often a server reads the sessions logged out on the other servers of its store."""
MAX_FORM_BYTES = 8 * 1024
"""The login form and the console's forms; a larger body is refused (413) while it is read."""
_BODY_KEY = "actions_1flow.body"
LOGIN_PATH = "/console/login"
LOGIN_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class Session:
    """A console session read from a valid cookie."""

    sid: str
    csrf: str
    expires_at: float


@dataclass(frozen=True)
class Principal:
    """Who made an admin request: a console session, or the token itself (`session` is None)."""

    via: str  # "session" | "bearer" | "public"
    session: Session | None = None


THROTTLED = {
    "throttled": "too many wrong tokens from this address; retry in {wait} s (the right token still works)",
    "refused": "too many wrong tokens from all addresses: no token is checked for {wait} s",
}


def _json(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"code": code, "message": message}), status, headers=headers, media_type="application/json"
    )


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class LoginThrottle:
    """Wrong tokens in a sliding window, per client address and in all (see `attempt` for the rule)."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        max_total: int = MAX_FAILURES_TOTAL,
    ) -> None:
        self.max_failures = max_failures
        self.max_total = max_total
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _trim(self, q: deque[float]) -> deque[float]:
        now = self._clock()
        while q and now - q[0] >= self.window:
            q.popleft()
        return q

    def _wait(self, q: deque[float], limit: int) -> int:
        if len(self._trim(q)) < limit:
            return 0
        return max(1, math.ceil(q[-limit] + self.window - self._clock()))

    def budget_wait(self) -> int:
        """0 while the global budget has room, else whole seconds until it has: no token is looked at till then."""
        return self._wait(self._all, self.max_total)

    def retry_after(self, ip: str) -> int:
        """0 when `ip` is under its own limit, else whole seconds until it is."""
        q = self._failures.get(ip)
        if q is None:
            return 0
        wait = self._wait(q, self.max_failures)
        if not q:
            del self._failures[ip]
        return wait

    def failed(self, ip: str) -> None:
        now = self._clock()
        self._failures.setdefault(ip, deque()).append(now)
        self._all.append(now)
        self._trim(self._all)
        if len(self._failures) > 100_000:  # a flood of addresses: forget the oldest rather than grow for ever
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, ip: str) -> None:
        self._failures.pop(ip, None)

    def attempt(self, ip: str, right: Callable[[], bool]) -> tuple[str, int]:
        """Judge one attempt: `("refused", wait)` while the global budget is spent (the token is not compared),
        `("ok", 0)` for the right token (from any address, throttled or not), `("throttled", wait)` for a wrong
        one from an address over its own limit, else `("wrong", 0)`. Every wrong token counts against both."""
        wait = self.budget_wait()
        if wait:
            return "refused", wait
        if right():
            self.succeeded(ip)
            return "ok", 0
        over = self.retry_after(ip) > 0  # this address had used its wrong tokens before this one
        self.failed(ip)
        return ("throttled", self.retry_after(ip)) if over else ("wrong", 0)


class AdminAuth:
    """The token check, sessions and the login throttle of one server (its console and admin API)."""

    def __init__(
        self, state: ServerState, clock: Callable[[], float] = time.time, stylesheets: tuple[str, ...] = ()
    ) -> None:
        """`stylesheets`: what the login form links (the console's, when it is installed)."""
        self.state = state
        self.clock = clock
        self.stylesheets = stylesheets
        self.throttle = LoginThrottle()
        self._revoked: dict[str, float] = {}
        """Session id → expiry, of sessions logged out (here, or on another server of the store)."""
        self._unrecorded: dict[str, float] = {}
        """Logged out here while the store refused the write: recorded at the next `load_revocations`."""

    # -- the configuration (read on every request: a reload may change the token or the ttl) --------------------

    @property
    def config(self) -> AdminConfig | None:
        return self.state.config.admin

    def _token(self) -> bytes:
        admin = self.config
        assert admin is not None
        return admin.token.get_secret_value().encode()

    def _key(self) -> bytes:
        return hmac.new(self._token(), b"actions-1flow console session v1", hashlib.sha256).digest()

    def token_matches(self, candidate: str) -> bool:
        return self.config is not None and hmac.compare_digest(
            candidate.encode("utf-8", "surrogateescape"), self._token()
        )

    # -- sessions ------------------------------------------------------------------------------------------------

    def new_session(self) -> tuple[Session, str]:
        """A fresh session and its cookie value."""
        admin = self.config
        assert admin is not None
        session = Session(
            secrets.token_urlsafe(12), secrets.token_urlsafe(24), round(self.clock() + admin.session_ttl, 3)
        )
        payload = base64.urlsafe_b64encode(
            orjson.dumps({"s": session.sid, "c": session.csrf, "e": session.expires_at})
        ).rstrip(b"=")
        signature = base64.urlsafe_b64encode(hmac.new(self._key(), payload, hashlib.sha256).digest()).rstrip(b"=")
        return session, (payload + b"." + signature).decode()

    def read_session(self, request: Request) -> Session | None:
        """The request's session when its cookie is valid, unexpired and not logged out."""
        if self.config is None:
            return None
        raw = request.cookies.get(COOKIE)
        if not raw or "." not in raw or len(raw) > 1024:
            return None
        payload, _, signature = raw.encode("ascii", "replace").partition(b".")
        expected = base64.urlsafe_b64encode(hmac.new(self._key(), payload, hashlib.sha256).digest()).rstrip(b"=")
        if not hmac.compare_digest(signature, expected):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
            session = Session(str(data["s"]), str(data["c"]), float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        now = self.clock()
        if session.expires_at <= now or session.sid in self._revoked:
            return None
        return session

    async def revoke(self, session: Session) -> None:
        """Log `session` out here at once, and in the store for every server (and after a restart)."""
        now = self.clock()
        self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}
        self._revoked[session.sid] = session.expires_at
        try:
            await asyncio.wrap_future(self.state.store.revoke_session(session.sid, session.expires_at, now))
        except StoreError as exc:  # this server refuses it anyway; the others learn it once the store is back
            self._unrecorded[session.sid] = session.expires_at
            log.warning("logging a console session out was not recorded in the store (%s); retrying", exc)

    def load_revocations(self) -> None:
        """Read the sessions logged out on any server of the store (and record those the store missed)."""
        now = self.clock()
        for sid, expires_at in list(self._unrecorded.items()):
            if expires_at > now:
                self.state.store.revoke_session(sid, expires_at, now).result()
            del self._unrecorded[sid]
        stored = self.state.store.revoked_sessions(now)
        self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now} | stored

    async def keep_revocations(self) -> None:
        """`load_revocations` every `REVOCATION_REFRESH_S` (a logout elsewhere holds here within that time)."""
        while True:
            await asyncio.sleep(REVOCATION_REFRESH_S)
            try:
                await asyncio.to_thread(self.load_revocations)
            except StoreError as exc:
                log.debug("console sessions logged out elsewhere not read: %s", exc)

    def set_cookie(self, response: Response, request: Request, value: str, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            value,
            max_age=max(1, round(session.expires_at - self.clock())),
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    # -- checks --------------------------------------------------------------------------------------------------

    def bearer(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    async def csrf_ok(self, request: Request, session: Session) -> bool:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            sent = (await read_form(request)).get(CSRF_FIELD)
        return sent is not None and hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), session.csrf.encode())

    async def authenticate(self, request: Request, *, api: bool = True) -> Principal | Response:
        """The principal of an admin API request, or the answer refusing it (401, 403 JSON; 429 when throttled)."""
        token = self.bearer(request)
        if token is not None:
            verdict, wait = self.throttle.attempt(client_ip(request), lambda: self.token_matches(token))
            if verdict == "ok":
                return Principal("bearer")
            if wait:
                return _json(429, "too_many_attempts", THROTTLED[verdict].format(wait=wait), {"Retry-After": str(wait)})
            return _json(
                401, "unauthorized", "wrong admin token", {"WWW-Authenticate": 'Bearer realm="actions-1flow admin"'}
            )
        session = self.read_session(request)
        if session is None:
            return _json(
                401,
                "unauthorized",
                "log in at /console/login or send Authorization: Bearer <admin token>",
                {"WWW-Authenticate": 'Bearer realm="actions-1flow admin"'},
            )
        if request.method not in SAFE_METHODS and not await self.csrf_ok(request, session):
            return _json(
                403,
                "csrf",
                f"a state-changing request needs the session's CSRF token ({CSRF_HEADER} header or {CSRF_FIELD} field)",
            )
        return Principal("session", session)


# -- helpers for the console's pages -----------------------------------------------------------------------------


def admin_auth(request: Request) -> AdminAuth:
    auth = getattr(request.app.state, "admin_auth", None)
    if auth is None:
        raise LookupError("the console is not enabled on this app (no admin section)")
    assert isinstance(auth, AdminAuth)
    return auth


def require_page_session(request: Request) -> Session | RedirectResponse:
    """The console page's session, or a 302 to the login form (coming back here after logging in)."""
    session = admin_auth(request).read_session(request)
    if session is not None:
        return session
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", 302)


def csrf_token(request: Request) -> str:
    """The CSRF token of the request's session (to put into the page); '' without a session."""
    session = admin_auth(request).read_session(request)
    return session.csrf if session is not None else ""


async def require_csrf(request: Request) -> Session | Response:
    """For a console form POST: the session when the CSRF token matches, else 302 (no session) or 403 JSON."""
    auth = admin_auth(request)
    session = auth.read_session(request)
    if session is None:
        return RedirectResponse(LOGIN_PATH, 302)
    if not await auth.csrf_ok(request, session):
        return _json(
            403,
            "csrf",
            f"a state-changing request needs the session's CSRF token ({CSRF_HEADER} header or {CSRF_FIELD} field)",
        )
    return session


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The request's body, read once (kept on the request) with the tracking API's reader: refused with an
    `IngestError` (413 `body_too_large`, answered as JSON by the server's error handler) as soon as it passes
    `limit` bytes, and with 408 when it stalls or takes longer in all than the server's `body_timeout`."""
    body = request.scope.get(_BODY_KEY)
    if body is None:
        timeout = request.app.state.server.config.server.body_timeout
        body = await read_body(
            request.receive, request.headers, timeout, limit, too_large=(413, "body_too_large"), deadline=timeout
        )
        request.scope[_BODY_KEY] = body
    if len(body) > limit:
        raise IngestError(413, "body_too_large", f"the body exceeds the limit of {limit:,} bytes per request", limit)
    return body


async def read_form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body of at most `MAX_FORM_BYTES` (first value of each field)."""
    body = await read_limited_body(request, MAX_FORM_BYTES)
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a console path of this server only (never another site)."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · actions-1flow console</title>{stylesheet}</head>
<body class="login"><main class="login-box">
<h1>actions-1flow console</h1>
{error}<form method="post" action="/console/login">
<input type="hidden" name="next" value="{next}">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></main></body></html>
"""


def login_html(next_path: str, error: str | None = None, stylesheets: list[str] | tuple[str, ...] = ()) -> str:
    """The login form (linking `stylesheets`: the page has no inline style)."""
    links = "".join(f'<link rel="stylesheet" href="{html.escape(url)}">' for url in stylesheets)
    shown = f'<p class="error" role="alert">{html.escape(error)}</p>\n' if error else ""
    return _LOGIN_PAGE.format(stylesheet=links, error=shown, next=html.escape(_safe_next(next_path)))


def _page(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(
        body,
        status,
        headers={
            "Content-Security-Policy": LOGIN_CSP,
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            **(headers or {}),
        },
    )


async def login_form(request: Request) -> Response:
    auth = admin_auth(request)
    if auth.read_session(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), 302)
    return _page(login_html(request.query_params.get("next") or "/console", stylesheets=auth.stylesheets))


def cross_site(request: Request) -> str | None:
    """Why a form POST comes from another site's page, or None: `Sec-Fetch-Site` other than same-origin or none
    (typed by the user), or an `Origin` that is not this server's own. A request with neither (curl, an old
    browser) passes; the CSRF a login form suffers is a page making the operator's browser post to it."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"the browser says it was sent by a {site} page (Sec-Fetch-Site)"
    origin = request.headers.get("origin")
    if origin is not None:
        own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
        public = request.app.state.server.config.server.public_url
        if origin.lower() not in (own, (public or own).lower()):
            return f"it was sent by a page at {origin[:100]}, not this server's own"
    return None


async def login_submit(request: Request) -> Response:
    auth = admin_auth(request)
    ip = client_ip(request)
    foreign = cross_site(request)
    if foreign is not None:  # any page the operator visits could otherwise post wrong tokens in their name
        return _page(
            login_html(
                "/console",
                f"The login was refused: {foreign}. Open {LOGIN_PATH} on this server and log in there.",
                auth.stylesheets,
            ),
            403,
        )
    try:
        form = await read_form(request)
    except IngestError as err:  # too large, too slow or gone: the form shows why, as for a wrong token
        # the rest of the body is unread: the connection's next bytes are no request, so it ends with this answer
        closing = {"Connection": "close"}
        return _page(login_html("/console", f"The form was refused: {err.message}."), err.status, closing)
    next_path = _safe_next(form.get("next"))
    verdict, wait = auth.throttle.attempt(ip, lambda: auth.token_matches(form.get("token", "")))
    if verdict == "wrong":
        return _page(login_html(next_path, "Wrong token.", auth.stylesheets), 401)
    if verdict != "ok":
        message = THROTTLED[verdict].format(wait=wait)
        return _page(
            login_html(next_path, message[0].upper() + message[1:] + ".", auth.stylesheets),
            429,
            {"Retry-After": str(wait)},
        )
    session, cookie = auth.new_session()
    response = RedirectResponse(next_path, 303)
    auth.set_cookie(response, request, cookie, session)
    response.headers["Cache-Control"] = "no-store"
    return response


async def logout(request: Request) -> Response:
    auth = admin_auth(request)
    session = auth.read_session(request)
    if session is not None:
        if not await auth.csrf_ok(request, session):
            return _json(
                403, "csrf", f"logging out needs the session's CSRF token ({CSRF_HEADER} header or {CSRF_FIELD} field)"
            )
        await auth.revoke(session)
    response = RedirectResponse(LOGIN_PATH, 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


def auth_routes() -> list[Route]:
    return [
        Route(LOGIN_PATH, login_form, methods=["GET"]),
        Route(LOGIN_PATH, login_submit, methods=["POST"]),
        Route("/console/logout", logout, methods=["POST"]),
    ]
