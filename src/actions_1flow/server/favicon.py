"""`/favicon.ico`: the icon a browser asks every page's server for (the console, its login, the demo), so none of
them shows a 404 in the browser's console. An SVG, which browsers take at that name by its media type."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service.answers import REVALIDATE, Asset, asset_response

ICON = Asset.of(
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
    b'fill="#24292f"/><path d="M5 3h7v2.5H7.5v2H11V10H7.5v3H5z" fill="#fff"/></svg>',
    "image/svg+xml",
    REVALIDATE,
)


async def favicon(request: Request) -> Response:
    return asset_response(request, ICON, {})


def favicon_routes() -> list[Route]:
    return [Route("/favicon.ico", favicon, methods=["GET", "HEAD"])]
