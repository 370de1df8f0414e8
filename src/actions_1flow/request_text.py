"""Requests whose URL is not text, refused before any route reads it.

An ASGI server hands the app the query string as raw bytes and the path as text it decoded; neither is promised to
be UTF-8 (uvicorn's h11 mode and other servers pass a client's stray bytes through, and a path may carry lone
surrogates). Starlette's `request.url`, its slash redirects and anything that builds a URL from the request decode
them as UTF-8 and raise. `RequestTextGuard` answers such a request 400 with a JSON reason instead, so no route has
to check: `?%FF` (percent-encoded bytes) is still accepted, and its parameters read as U+FFFD where not UTF-8.
Headers need no check: Starlette reads them as Latin-1, which every byte is.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Refusal = Callable[[str, str], Response]
"""Builds the 400 answer from a machine-readable code and a sentence (each app answers errors in its own shape)."""


def url_problem(scope: Scope) -> tuple[str, str] | None:
    """`(code, message)` when the request's query string or path is not UTF-8 text, else None."""
    try:
        scope.get("query_string", b"").decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            "invalid_query_string",
            f"the query string is not UTF-8 text (byte {exc.start + 1} is {exc.object[exc.start]:#04x}); "
            "percent-encode bytes that are not text (%XX)",
        )
    try:
        scope["path"].encode("utf-8")
    except UnicodeEncodeError:
        return "invalid_path", "the path is not UTF-8 text; percent-encode bytes that are not text (%XX)"
    return None


class RequestTextGuard:
    """ASGI middleware: an HTTP request whose URL is not text gets `refusal(code, message)` (a 400), the rest
    passes to `app` unchanged."""

    def __init__(self, app: ASGIApp, refusal: Refusal) -> None:
        self.app = app
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = url_problem(scope) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        await self.refusal(*problem)(scope, receive, send)
