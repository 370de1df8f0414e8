"""actions-1flow: Segment's Actions engine in Python and the 1Flow Web (Actions) destination, self-hosted."""

__version__ = "0.1.0"
"""The package's version, written here only (pyproject.toml reads it; `actions-1flow --version` prints it)."""
