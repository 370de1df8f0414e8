"""The console's pages: server-rendered shells (Jinja2, autoescaped) that load one script, which reads the admin
JSON API (`/admin/api/v1/…`) with the session cookie and the page's CSRF token and renders with `textContent`
only. Every page answers with a strict Content-Security-Policy: scripts, styles and requests to this origin only,
no inline script or style, no framing.

Without a session a page answers 302 to `/console/login`: `Pages` is given how to tell (the admin's session check,
wired by the composition root, `app`), and the app mounts these routes only when the configuration has an `admin`
section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .assets import StaticFiles

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
"""No inline script or style attribute anywhere; the script builds the page with DOM calls (element.style set
from script is CSSOM, which style-src does not govern)."""

PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

NAV = [
    ("overview", "/console", "Overview"),
    ("events", "/console/events", "Event delivery"),
    ("tester", "/console/tester", "Event Tester"),
    ("mappings", "/console/mappings", "Mappings"),
    ("destinations", "/console/destinations", "Destinations"),
    ("replay", "/console/replay", "Replay"),
]


def environment(static: StaticFiles) -> Environment:
    env = Environment(
        loader=PackageLoader("actions_1flow.console", "templates"),
        autoescape=True,  # every template is HTML; event data never reaches them unescaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset"] = static.url
    env.globals["nav"] = NAV
    return env


class PageSession(Protocol):
    """An operator's console session, as a page needs it."""

    @property
    def csrf(self) -> str: ...

    @property
    def expires_at(self) -> float: ...


SessionCheck = Callable[[Request], "PageSession | Response"]
"""The request's session, or the answer to give without one (a redirect to the login form)."""


class Pages:
    """The console's pages and files; `session` tells who is logged in."""

    def __init__(self, session: SessionCheck) -> None:
        self.session = session
        self.static = StaticFiles()
        self.env = environment(self.static)

    @property
    def stylesheet(self) -> str:
        """The console stylesheet's URL (the login form links it too: it has no inline style either)."""
        return self.static.url("console.css")

    def render(self, request: Request, template: str, page: str, title: str, **context: Any) -> Response:
        session = self.session(request)
        if isinstance(session, Response):
            return session
        html = self.env.get_template(template).render(
            page=page, title=title, csrf=session.csrf, expires_at=session.expires_at, **context
        )
        return HTMLResponse(html, headers=PAGE_HEADERS)

    async def overview(self, request: Request) -> Response:
        range_ = request.query_params.get("range", "1h")
        return self.render(
            request, "overview.html", "overview", "Overview", range=range_ if range_ in ("1h", "24h", "7d") else "1h"
        )

    async def events(self, request: Request) -> Response:
        return self.render(request, "events.html", "events", "Event delivery")

    async def event(self, request: Request) -> Response:
        message_id = request.path_params["message_id"]
        return self.render(
            request,
            "event.html",
            "event",
            "Event " + message_id,
            message_id=message_id,
            source=request.query_params.get("source", ""),
        )

    async def tester(self, request: Request) -> Response:
        return self.render(request, "tester.html", "tester", "Event Tester")

    async def mappings(self, request: Request) -> Response:
        return self.render(request, "mappings.html", "mappings", "Mappings")

    async def destinations(self, request: Request) -> Response:
        return self.render(request, "destinations.html", "destinations", "Destinations")

    async def replay(self, request: Request) -> Response:
        return self.render(request, "replay.html", "replay", "Replay")


def routes(pages: Pages) -> list[Route]:
    """The console's routes (full paths; `/console/login` and `/console/logout` are the admin's)."""
    return [
        Route("/console", pages.overview),
        Route("/console/", pages.overview),
        Route("/console/events", pages.events),
        Route("/console/events/{message_id:path}", pages.event),
        Route("/console/tester", pages.tester),
        Route("/console/mappings", pages.mappings),
        Route("/console/destinations", pages.destinations),
        Route("/console/replay", pages.replay),
        Route(StaticFiles.PREFIX + "{name}", pages.static.endpoint),
    ]
