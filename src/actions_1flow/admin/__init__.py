"""The operator's side of the server: authentication (`auth`), the admin JSON API (`api`), `/metrics`
(`metrics`) and configuration reload (`reload`). `routes(state)` returns the Starlette routes; the server mounts
them (and the console's pages) when the configuration has an `admin` section."""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from ..service.answers import json_error

ADMIN_PREFIXES = ("/console", "/admin")


def is_admin_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ADMIN_PREFIXES)


class AdminGate:
    """ASGI middleware answering 404 for every /console and /admin path when `enabled()` is false: no `admin`
    section (read at each request, so a reload that removes it closes them), or this is the public port while
    `admin.listen` serves them elsewhere."""

    def __init__(self, app: ASGIApp, enabled: object) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_admin_path(scope["path"]) and not self.enabled():  # type: ignore[operator]
            response = json_error(
                404, "not_found", f"{scope['method']} {scope['path'][:200]} is not an endpoint of this server"
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def exposure_warning(host: str, admin_listen: tuple[str, int] | None, enabled: bool) -> str | None:
    """The warning `serve` logs at start when the console and admin API answer on a public address: `host`
    (`server.host`, where they are served unless `admin.listen` is set) or `admin.listen`'s, a wildcard or
    not loopback. None when they are off or only on loopback."""
    if not enabled:
        return None
    where = admin_listen[0] if admin_listen is not None else host
    try:
        loopback = ipaddress.ip_address(where.strip("[]")).is_loopback
    except ValueError:
        loopback = where == "localhost"
    if loopback:
        return None
    place = f"admin.listen {where}" if admin_listen is not None else f"the public address {where} (server.host)"
    return (
        f"the console and the admin API are served on {place}: anyone who reaches it can try tokens; set "
        "admin.listen: 127.0.0.1:9090 (and reach it over SSH or a VPN), or put them behind your TLS proxy's access "
        "rules"
    )
