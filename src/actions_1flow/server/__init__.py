"""The HTTP server: tracking API (ingest → pipeline) and, for device mode, settings and plugin assets."""

from .app import ServerState, build_worker, create_app, open_store

__all__ = ["ServerState", "build_worker", "create_app", "open_store"]
