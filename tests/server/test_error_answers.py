"""Refusals are JSON whatever bytes the client put in the query string or the path (found by `make fuzz`:
Starlette's `request.url` decodes the query as UTF-8, and orjson refuses lone surrogates)."""

from __future__ import annotations

import asyncio
import json

from actions_1flow.config import parse_config
from actions_1flow.server import create_app


def call(app, method: str, path: str, query: bytes) -> tuple[int, dict]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": [],
        "client": ("203.0.113.9", 5000),
        "server": ("server.test", 80),
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def test_stray_bytes_in_the_query_or_path_get_a_400_with_a_json_reason(tmp_path):
    """Before any route reads the URL (`request_text.RequestTextGuard`); percent-encoded bytes are not refused."""
    app = create_app(parse_config(f"storage: sqlite:///{tmp_path}/db.sqlite\n"), run_worker=False)
    status, body = call(app, "POST", "/v1/projects/wk/settings", b"a=\x90\xff")
    assert (status, body["code"]) == (400, "invalid_query_string") and "byte 3 is 0x90" in body["message"]
    status, body = call(app, "GET", "/nope\udcff", b"")
    assert (status, body["code"]) == (400, "invalid_path") and "percent-encode" in body["message"]
    status, body = call(app, "POST", "/v1/projects/wk/settings", b"a=%90%FF")
    assert (status, body["code"]) == (405, "method_not_allowed")
    status, body = call(app, "GET", "/" + "x" * 10_000, b"")
    assert status == 404 and len(body["message"]) < 300
    app.state.server.store.close()
