"""A local 1Flow: the public HTTP API with 1Flow's documented rules, a fake web SDK, a call log and fault injection.

In-process: `create_app(...)` with `httpx.ASGITransport`; as a server: `actions-1flow sandbox` (see `serve`).
"""

from .app import asgi, create_app
from .server import serve
from .state import Fault, SandboxKey, SandboxState
from .surveys import SurveyEmitter

__all__ = ["Fault", "SandboxKey", "SandboxState", "SurveyEmitter", "asgi", "create_app", "serve"]
