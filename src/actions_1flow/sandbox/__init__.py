"""A local 1Flow: the public HTTP API with 1Flow's documented rules, a fake web SDK, a call log and fault injection.

In-process: `create_app(...)` with `httpx.ASGITransport`; as a server: `actions-1flow sandbox` (see `serve`).
"""

from .app import asgi, create_app
from .server import serve
from .state import Fault, SandboxKey, SandboxState

__all__ = ["Fault", "SandboxKey", "SandboxState", "asgi", "create_app", "serve"]
