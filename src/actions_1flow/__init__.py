"""actions-1flow: Segment's Actions engine in Python and the 1Flow Web (Actions) destination, self-hosted."""

__version__ = "0.1.0"
