"""The server: one ASGI app for the tracking API and device mode (settings, loader, plugin, error reports), and the
delivery worker for cloud-mode destinations.

`create_app(config)` wires the configuration's sources and destinations to a store. The worker runs in the same
process by default (`run_worker=False` leaves delivery to a separate `actions-1flow worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from ..admin import AdminGate
from ..admin.api import routes as admin_api_routes
from ..admin.auth import AdminAuth
from ..admin.metrics import metrics_routes
from ..admin.reload import Reloader
from ..config import Config
from ..ingest.origins import OriginPolicy
from ..pipeline import RetryPolicy, Store, stores
from ..pipeline.suppression import SuppressionList
from ..pipeline.worker import Worker
from ..request_text import RequestTextGuard
from .demo import demo_routes
from .device_mode import device_mode_routes
from .errors import EXCEPTION_HANDLERS
from .ratelimit import RateLimiter
from .readiness import health, ready
from .responses import json_error
from .sdk_proxy import SdkProxy
from .state import ServerState
from .tracking import TrackingAPI

log = logging.getLogger("actions_1flow.server")


def open_store(config: Config) -> Store:
    """The configuration's store (`storage: sqlite:///PATH` or `postgresql://…`)."""
    return stores.open_store(config.storage, partitions=config.pipeline.partitions)


def retry_policy(config: Config) -> RetryPolicy:
    p = config.pipeline
    return RetryPolicy(base=p.retry_base, cap=p.retry_cap, window=p.retry_window)


def build_worker(config: Config, store: Store, **options: Any) -> Worker:
    """A worker for every cloud-mode destination of the configuration."""
    destinations = [(d, config.sources_of(d)) for d in config.cloud_destinations()]
    p = config.pipeline
    for name in ("poll_interval", "batch_size", "batch_age", "dedup_window", "log_retention", "lease_ttl"):
        options.setdefault(name, getattr(p, name))
    return Worker(store, destinations, retry_policy(config), **options)


async def _refresh_suppressions(suppressions: SuppressionList) -> None:
    """Read the suppression list again every few seconds (one suppressed anywhere is dropped here from then on)."""
    failing = False
    while True:
        await asyncio.sleep(suppressions.refresh_interval)
        try:
            await asyncio.to_thread(suppressions.load)
        except Exception as exc:  # the store is down: keep the list as it was
            if not failing:
                log.warning("cannot refresh the suppression list (keeping the one read before): %s", exc)
            failing = True
        else:
            failing = False


class WorkerSlot:
    """The server's delivery worker, replaceable on reload: the old one finishes its round and stops, a new one
    for the new configuration starts from the recorded cursors."""

    def __init__(self, state: ServerState, options: dict[str, Any]) -> None:
        self.state = state
        self.options = options
        self.worker: Worker | None = None

    async def start(self, config: Config) -> None:
        worker = build_worker(config, self.state.store, suppressions=self.state.suppressions, **self.options)
        self.state.on_stored.append(worker.wake)
        await worker.start()
        self.worker = worker

    async def stop(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            with contextlib.suppress(ValueError):
                self.state.on_stored.remove(worker.wake)
            await worker.stop()

    async def restart(self, config: Config) -> None:
        for dest in config.cloud_destinations():
            await asyncio.wrap_future(self.state.store.ensure_cursor(dest.name))
        await self.stop()
        await self.start(config)


def _admin_routes(state: ServerState, auth: AdminAuth) -> list[Any]:
    return [*admin_api_routes(state, auth), *_console_routes(state)]


def _console_routes(state: ServerState) -> list[Any]:
    """The console's pages (`console.routes`), when that package is installed; the admin API works without it."""
    try:
        from ..console.routes import routes as console_routes
    except ImportError:
        return []
    return list(console_routes(state))


def create_app(
    config: Config,
    *,
    store: Store | None = None,
    run_worker: bool = True,
    worker_options: dict[str, Any] | None = None,
    reload_on_sighup: bool = False,
) -> Starlette:
    """The ASGI app. Owns the store it opens (closes it on shutdown); a store passed in stays the caller's.

    With an `admin` section it serves the console, the admin API and `/metrics`; with `admin.listen`, those are
    served by `app.state.admin_app` instead (run it on that address: `serve` does), and this app answers 404 for
    them. `reload_on_sighup`: SIGHUP reloads the configuration file (see `admin.reload`)."""
    owned = store is None
    origins = OriginPolicy({s.name: s.cors_origins for s in config.sources}, config.server.public_url)
    state = ServerState(
        config, store or open_store(config), {k: s for s in config.sources for k in s.accepted_write_keys()}, origins
    )
    sdk_proxy = SdkProxy.for_config(config)

    slot = WorkerSlot(state, worker_options or {})
    reloader = Reloader(state, slot.restart if run_worker else None)
    hup: list[asyncio.Task[Any]] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for dest in config.cloud_destinations():
            state.store.ensure_cursor(dest.name).result()
        state.suppressions.load()
        refresh = asyncio.create_task(_refresh_suppressions(state.suppressions), name="suppressions")
        await sdk_proxy.start()  # first fetch of each hosted SDK (bounded), then its refresh task
        if run_worker:
            await slot.start(state.config)
        loop = asyncio.get_running_loop()
        if reload_on_sighup:
            loop.add_signal_handler(
                signal.SIGHUP, lambda: hup.append(asyncio.create_task(reloader.reload(), name="reload"))
            )
        try:
            yield
        finally:
            if reload_on_sighup:
                loop.remove_signal_handler(signal.SIGHUP)
            await asyncio.gather(*hup, return_exceptions=True)
            refresh.cancel()
            await asyncio.gather(refresh, return_exceptions=True)
            with contextlib.suppress(Exception):  # the last few seconds' drop counts (the store may be down)
                await asyncio.to_thread(state.suppressions.flush)
            await slot.stop()
            await sdk_proxy.stop()
            if owned:
                state.store.close()

    routes = [
        Route("/health", health),
        Route("/ready", ready),
        *device_mode_routes(state, sdk_proxy),
        *demo_routes(state),
    ]
    auth = AdminAuth(state) if config.admin is not None else None
    separate = config.admin is not None and config.admin.listen is not None
    admin_routes = _admin_routes(state, auth) if auth is not None else []
    metrics = metrics_routes(state, auth)
    if not separate:
        routes += admin_routes + metrics
    elif config.metrics.public:
        routes += metrics
    limiter = RateLimiter.for_sources(config.sources)
    # Inside the tracking API, which reads no URL (and answers first on its hot path): every other route.
    text_only = Middleware(RequestTextGuard, refusal=functools.partial(json_error, 400))
    middleware = [
        Middleware(TrackingAPI, state=state, limiter=limiter),
        text_only,
        Middleware(AdminGate, enabled=(lambda: False) if separate else (lambda: state.config.admin is not None)),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
    shared = {"server": state, "admin_auth": auth, "reloader": reloader, "worker_slot": slot}
    for name, value in shared.items():
        setattr(app.state, name, value)
    app.state.sdk_proxy = sdk_proxy
    app.state.rate_limiter = limiter
    app.state.admin_app = None
    if separate:
        admin_app = Starlette(
            routes=[Route("/health", health), *admin_routes, *metrics],
            middleware=[text_only, Middleware(AdminGate, enabled=lambda: state.config.admin is not None)],
            exception_handlers=EXCEPTION_HANDLERS,
        )
        for name, value in shared.items():
            setattr(admin_app.state, name, value)
        app.state.admin_app = admin_app
    return app
