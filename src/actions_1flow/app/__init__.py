"""The composition root: the server app (`http.create_app`) and the delivery worker (`delivery`) assembled from a
configuration. Only this package, and the command line above it, imports the server, the admin API and the
console together."""

from .delivery import build_worker, delivery_options, open_store, retry_policy
from .http import create_app

__all__ = ["build_worker", "create_app", "delivery_options", "open_store", "retry_policy"]
