"""Refusals of tracking-API input: a status, a stable machine-readable code and a sentence for people."""

from __future__ import annotations


class IngestError(Exception):
    """Client input the tracking API refuses. Always a 4xx; never raised for a server-side fault."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, object]:
        """The JSON body of the refusal."""
        return {"success": False, "code": self.code, "message": self.message}
