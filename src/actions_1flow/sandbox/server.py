"""Serving the sandbox over real sockets with uvicorn."""

from __future__ import annotations

import uvicorn

from ..secrets import mask_secret
from .app import asgi, create_app
from .state import SandboxKey
from .surveys import SurveyEmitter, shown_url


def describe_keys(keys: list[SandboxKey]) -> str:
    if not keys:
        return "no keys (every API call gets 401)"
    return ", ".join(f"{mask_secret(k.key)} ({', '.join(sorted(k.regions))})" for k in keys)


def serve(
    host: str,
    port: int,
    keys: list[SandboxKey],
    rate: float | None = None,
    log_level: str = "info",
    surveys: SurveyEmitter | None = None,
) -> None:
    """Run until interrupted; prints one line saying where and with which (masked) keys."""
    surveys = surveys or SurveyEmitter()
    app = create_app(list(keys), rate=rate, surveys=surveys)
    rate_text = f"{rate:g} requests/s" if rate else "no rate limit"
    hook = f"survey webhooks to {shown_url(surveys.url)}" if surveys.url else "no survey webhook URL"
    every = f"retried every {surveys.interval:g}s"
    print(
        f"1Flow sandbox on http://{host}:{port} — keys: {describe_keys(keys)}; {rate_text}; {hook}, {every}", flush=True
    )
    uvicorn.run(asgi(app), host=host, port=port, log_level=log_level, lifespan="off")
