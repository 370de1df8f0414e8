"""Refusals of tracking-API input: a status, a stable machine-readable code and a sentence for people."""

from __future__ import annotations


class IngestError(Exception):
    """Client input the tracking API refuses. Always a 4xx; never raised for a server-side fault.

    `limit` is the number a size or count refusal was measured against (bytes or events), so clients can split.
    """

    def __init__(self, status: int, code: str, message: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.limit = limit

    def to_json(self) -> dict[str, object]:
        """The JSON body of the refusal (`code` and `message` are what Segment's libraries read)."""
        body: dict[str, object] = {"success": False, "code": self.code, "message": self.message}
        if self.limit is not None:
            body["limit"] = self.limit
        return body
