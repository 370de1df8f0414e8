"""A real HTTP server in the test's process that records every request (method, path, headers, raw body, arrival
time) and answers as the test's `answer(request)` says: a webhook receiver, or a Segment-compatible API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: Message
    """As received, names in any case (`headers["authorization"]`, `.get("X-Signature")`)."""
    raw: bytes
    at: float
    status: int = 200


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """`answer(request)` decides each response (200 with no body when None); `requests` keeps them all in order."""

    def __init__(self, answer: Callable[[Request], Answer | None] | None = None) -> None:
        self.answer = answer or (lambda request: None)
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                request = Request(self.command, self.path, self.headers, raw, time.monotonic())
                with receiver.lock:
                    answer = receiver.answer(request) or Answer()
                    request.status = answer.status
                    receiver.requests.append(request)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_POST = do_PUT = do_PATCH = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str, status: int | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path and (status is None or r.status == status)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
