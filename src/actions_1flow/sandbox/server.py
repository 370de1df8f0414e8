"""Serving the sandbox over real sockets with uvicorn."""

from __future__ import annotations

import uvicorn

from ..secrets import mask_secret
from .app import asgi, create_app
from .state import SandboxKey


def describe_keys(keys: list[SandboxKey]) -> str:
    if not keys:
        return "no keys (every API call gets 401)"
    return ", ".join(f"{mask_secret(k.key)} ({', '.join(sorted(k.regions))})" for k in keys)


def serve(host: str, port: int, keys: list[SandboxKey], rate: float | None = None, log_level: str = "info") -> None:
    """Run until interrupted; prints one line saying where and with which (masked) keys."""
    app = create_app(list(keys), rate=rate)
    rate_text = f"{rate:g} requests/s" if rate else "no rate limit"
    print(f"1Flow sandbox on http://{host}:{port} — keys: {describe_keys(keys)}; {rate_text}", flush=True)
    uvicorn.run(asgi(app), host=host, port=port, log_level=log_level, lifespan="off")
