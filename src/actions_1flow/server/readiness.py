"""`GET /health` and `GET /ready`: whether this server can keep its promise that a 200 means stored.

Both answer 503 with the reason once the store is known to be damaged (see `pipeline.stores.sqlite_integrity`): a
load balancer or supervisor then stops sending traffic to, or restarts, a process whose acknowledgements would be
worthless —
and a restart refuses to start on the damaged file, saying what to do. `/ready` also asks the store a question (its
newest log position), so a file that broke since the last write is noticed when it is probed.
"""

from __future__ import annotations

import asyncio
import sqlite3

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..pipeline import StoreError, StoreUnavailable


def _not_ready(reason: str, code: str = "storage_damaged") -> Response:
    return JSONResponse({"ok": False, "code": code, "message": reason}, 503, headers={"cache-control": "no-store"})


async def health(request: Request) -> Response:
    """`GET /health`: the process runs and its store is not known to be damaged."""
    problem = request.app.state.server.store.damaged
    return JSONResponse({"ok": True}) if problem is None else _not_ready(problem)


async def ready(request: Request) -> Response:
    """`GET /ready`: as `/health`, after reading from the store."""
    store = request.app.state.server.store
    try:
        await asyncio.to_thread(store.last_seq)
    except StoreUnavailable as exc:
        return _not_ready(str(exc), "storage_unavailable")
    except (sqlite3.Error, StoreError) as exc:
        return _not_ready(store.damaged or f"the event store cannot be read: {exc}")
    problem = store.damaged
    return (
        JSONResponse({"ok": True, "ready": True}, headers={"cache-control": "no-store"})
        if problem is None
        else _not_ready(problem)
    )
