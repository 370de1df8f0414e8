"""What the pipeline, `send` and `test-event` need from a destination's HTTP client, whatever the destination.

A client sends the messages its destination's actions produce and answers with `Outcome`s, never exceptions: the
retry contract (`actions.outcomes`) is the kit's, the wire format and the hints are the destination's.
"""

from __future__ import annotations

from typing import Any, Protocol, Self, runtime_checkable

from .outcomes import Outcome

DEFAULT_TIMEOUT_S = 10.0
"""Segment's request client waits 10 s for a destination."""
DEFAULT_CONNECT_TIMEOUT_S = 5.0


@runtime_checkable
class Client(Protocol):
    """Pooled connections to one destination endpoint with one set of credentials; `async with` closes them."""

    @property
    def endpoint(self) -> str:
        """Where requests go (for reports; never holds a secret)."""
        ...

    async def send(self, message: Any) -> Outcome:
        """One message in one request."""
        ...

    async def send_batch(self, messages: list[Any], *, stop_on_retryable: bool = False) -> list[Outcome]:
        """Many messages in as few requests as the destination allows, in order; every message is covered by
        exactly one outcome. With `stop_on_retryable`, the first retryable answer ends the call and the messages
        not yet sent get a retryable outcome without a request (the pipeline waits before sending more)."""
        ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...
