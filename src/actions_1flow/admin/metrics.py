"""`GET /metrics`: the process's counters (`telemetry`) and, read from the store at each scrape, the events
pending per cloud-mode destination, in Prometheus' text format. Needs the admin token (Bearer) or a console
session, unless `metrics: {public: true}`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import telemetry
from ..pipeline import queries
from ..service.answers import json_error
from ..service.state import ServerState
from .auth import AdminAuth


class PendingCollector(Collector):
    """`actions_1flow_pending_events{destination}` from the store's counts (the same numbers as `status`)."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "actions_1flow_pending_events",
            "Events received but not yet seen by the destination's worker",
            labels=["destination"],
        )
        for name, n in sorted(self.pending.items()):
            family.add_metric([name], n)
        yield family


PENDING = PendingCollector()
telemetry.REGISTRY.register(PENDING)
_scrape = asyncio.Lock()


def metrics_routes(state: ServerState, auth: AdminAuth | None) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        if not state.config.metrics.public:
            if auth is None or state.config.admin is None:
                return json_error(
                    404, "not_found", "/metrics needs an admin section (its token) or metrics.public: true"
                )
            principal = await auth.authenticate(request)
            if isinstance(principal, Response):
                return principal
        config = state.config
        destinations = {d.name: config.sources_of(d) for d in config.cloud_destinations()}
        async with _scrape:  # one scrape at a time reads the store and renders
            try:
                rows = await asyncio.to_thread(queries.status_rows, state.store, destinations, 0.0)
            except Exception:
                rows = None  # the store is down: the counters are still worth scraping; pending is left out
            PENDING.pending = {r["destination"]: r["pending"] for r in rows} if rows is not None else {}
            body = generate_latest(telemetry.REGISTRY)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})

    return [Route("/metrics", endpoint, methods=["GET"])]
