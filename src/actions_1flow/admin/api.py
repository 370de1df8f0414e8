"""The admin JSON API under `/admin/api/v1/` (see docs/console.md, "Admin API")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..server.state import ServerState
from .auth import AdminAuth, Principal, admin_auth, auth_routes

PREFIX = "/admin/api/v1"

Handler = Callable[[Request, Principal], Awaitable[Response]]


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status, media_type="application/json", headers={"Cache-Control": "no-store"})


def problem(status: int, code: str, message: str) -> Response:
    return json_response({"code": code, "message": message}, status)


def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal = await admin_auth(request).authenticate(request)
        if isinstance(principal, Response):
            return principal
        return await handler(request, principal)

    endpoint.__name__ = handler.__name__
    return endpoint


async def session_info(request: Request, principal: Principal) -> Response:
    s = principal.session
    return json_response({"via": principal.via, "csrf": s.csrf if s else None, "expires_at": s.expires_at if s else None})


def routes(state: ServerState, auth: AdminAuth) -> list[BaseRoute]:
    """The login/logout routes and the admin API."""
    api: list[tuple[str, Handler, list[str]]] = [
        ("/session", session_info, ["GET"]),
    ]
    return [*auth_routes(), *(Route(PREFIX + path, guarded(h), methods=m) for path, h, m in api)]
