"""`GET /health` and `GET /ready`: whether this server can keep its promise that a 200 means stored.

Both answer 503 with a reason code once the store is known to be damaged (see `pipeline.stores.sqlite_integrity`): a
load balancer or supervisor then stops sending traffic to, or restarts, a process whose acknowledgements would be
worthless — and a restart refuses to start on the damaged file, saying what to do. `/ready` also asks the store a
question (its newest log position), so a file that broke since the last write, or a database that went away, is
noticed when it is probed.

Neither needs authentication, so neither says more than a code (`storage_unavailable`, `storage_damaged`): the
store's URL, host, user, database or file stays out of the answer. The detail goes to the log (its URL without
secrets), once each time it changes rather than at every probe.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..pipeline import StoreError, StoreUnavailable

log = logging.getLogger("actions_1flow.server")

MESSAGES = {
    "storage_unavailable": "the event store cannot be reached; the server's log says why",
    "storage_damaged": "the event store is damaged; the server's log says why and what to do",
}
"""What an unauthenticated probe is told for each code."""


def _not_ready(request: Request, code: str, detail: str) -> Response:
    if getattr(request.app.state, "readiness_logged", None) != detail:  # a probe a second logs a change once
        request.app.state.readiness_logged = detail
        log.warning("%s %s: %s", request.scope["path"], code, detail)
    return JSONResponse(
        {"ok": False, "code": code, "message": MESSAGES[code]}, 503, headers={"cache-control": "no-store"}
    )


def _ok(request: Request, body: dict[str, bool]) -> Response:
    request.app.state.readiness_logged = None
    return JSONResponse(body, headers={"cache-control": "no-store"})


async def health(request: Request) -> Response:
    """`GET /health`: the process runs and its store is not known to be damaged."""
    problem = request.app.state.server.store.damaged
    return _ok(request, {"ok": True}) if problem is None else _not_ready(request, "storage_damaged", problem)


async def ready(request: Request) -> Response:
    """`GET /ready`: as `/health`, after reading from the store."""
    store = request.app.state.server.store
    try:
        await asyncio.to_thread(store.last_seq)
    except StoreUnavailable as exc:
        return _not_ready(request, "storage_unavailable", str(exc))
    except (sqlite3.Error, StoreError) as exc:
        return _not_ready(request, "storage_damaged", store.damaged or f"the event store cannot be read: {exc}")
    problem = store.damaged
    return (
        _ok(request, {"ok": True, "ready": True})
        if problem is None
        else _not_ready(request, "storage_damaged", problem)
    )
