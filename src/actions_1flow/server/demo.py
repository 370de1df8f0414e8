"""The demo page (`server.demo: <source>`): a page served by the server itself where buttons call analytics.js,
showing live what 1Flow receives both ways.

`GET /demo` is the page: the analytics.js snippet (loader and settings from this server, the source's write key) and
a hook that records every call the 1Flow plugin makes into the 1Flow SDK (device mode). `GET /demo/activity.json` is
what the page polls for the server side: the newest cloud-mode deliveries and device-mode error reports of events
from the demo's source (no other source's). Neither route exists unless the configuration names a demo source;
neither is authenticated, so the demo is for a developer's machine, not for production.
"""

from __future__ import annotations

import asyncio
import re
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..pipeline import queries
from ..service import records
from ..service.state import ServerState
from .inline_json import script_json

ACTIVITY_ROWS = 30
"""Deliveries (and device reports) the page shows at most."""

_PAGE = files(__package__).joinpath("demo.html").read_text(encoding="utf-8")
_PLACEHOLDER = re.compile("__WRITE_KEY__|__SOURCE__|__CONSOLE_LINK__")
_CONSOLE_LINK = ' <a href="/console">Open the operator console</a> for the same deliveries in detail.'
_NO_STORE = {"cache-control": "no-store"}


def demo_routes(state: ServerState) -> list[Route]:
    """`/demo` and `/demo/activity.json` when `server.demo` names a source; nothing otherwise."""
    name = state.config.server.demo
    source = next((s for s in state.config.sources if s.name == name), None)
    if source is None:
        return []
    admin = state.config.admin
    values = {
        "__WRITE_KEY__": script_json(source.write_key),
        "__SOURCE__": script_json(source.name),
        "__CONSOLE_LINK__": _CONSOLE_LINK if admin is not None and admin.listen is None else "",  # on this port
    }
    page = _PLACEHOLDER.sub(lambda m: values[m.group(0)], _PAGE)  # one pass: a value is never read as a placeholder

    async def demo_page(request: Request) -> Response:
        return HTMLResponse(page, headers=_NO_STORE)

    async def activity(request: Request) -> Response:
        # Only the demo's own source: the route has no authentication, other sources' traffic is not its to show.
        deliveries = await asyncio.to_thread(queries.recent_log, state.store, ACTIVITY_ROWS, source=source.name)
        reports = await asyncio.to_thread(state.store.device_events, ACTIVITY_ROWS, source=source.name)
        return JSONResponse(
            {
                "source": source.name,
                "deliveries": [records.log_entry(r.entry, r.source) for r in deliveries],
                "device_events": [records.device_event(r) for r in reports],
            },
            headers=_NO_STORE,
        )

    return [Route("/demo", demo_page, methods=["GET"]), Route("/demo/activity.json", activity, methods=["GET"])]
