"""The composition root of the server: `create_app(config)` builds one ASGI app from the tracking API and device
mode (`server`), the admin API, its auth, `/metrics` and reload (`admin`), the console's pages (`console`) and the
delivery worker (`delivery`), wired to one store. It only wires: what each part does is its own module's.

The worker runs in the same process by default (`run_worker=False` leaves delivery to a separate
`actions-1flow worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from ..actions import Client
from ..admin import AdminGate
from ..admin.api import routes as admin_api_routes
from ..admin.auth import AdminAuth, require_page_session
from ..admin.evaluation import Evaluator
from ..admin.metrics import metrics_routes
from ..admin.reload import Reloader
from ..config import Config, DestinationConfig
from ..ingest.origins import OriginPolicy
from ..pipeline import Store, StoreError
from ..request_text import RequestTextGuard
from ..server.demo import demo_routes
from ..server.device_mode import device_mode_routes
from ..server.errors import EXCEPTION_HANDLERS
from ..server.favicon import favicon_routes
from ..server.ratelimit import RateLimiter
from ..server.readiness import health, ready
from ..server.sdk_proxy import SdkProxy
from ..server.tracking import TrackingAPI
from ..service.answers import json_error
from ..service.state import ServerState
from .delivery import WorkerSlot, open_store, refresh_suppressions


def _console() -> Any:
    """The console's pages (`console.routes`), when that package is installed (the admin API works without it)."""
    try:
        from ..console import routes as console
    except ImportError:
        return None
    return console


def create_app(
    config: Config,
    *,
    store: Store | None = None,
    run_worker: bool = True,
    client_factory: Callable[[DestinationConfig], Client] | None = None,
    reload_on_sighup: bool = False,
) -> Starlette:
    """The ASGI app. Owns the store it opens (closes it on shutdown); a store passed in stays the caller's.

    With an `admin` section it serves the console, the admin API and `/metrics`; with `admin.listen`, those are
    served by `app.state.admin_app` instead (run it on that address: `serve` does), and this app answers 404 for
    them. `client_factory(destination)` makes the worker's clients (each destination's own by default).
    `reload_on_sighup`: SIGHUP reloads the configuration file (see `admin.reload`)."""
    owned = store is None
    origins = OriginPolicy({s.name: s.cors_origins for s in config.sources}, config.server.public_url)
    state = ServerState(
        config, store or open_store(config), {k: s for s in config.sources for k in s.accepted_write_keys()}, origins
    )
    sdk_proxy = SdkProxy.for_config(config)

    slot = WorkerSlot(state, client_factory)
    reloader = Reloader(state, slot.restart if run_worker else None)
    hup: list[asyncio.Task[Any]] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for dest in config.cloud_destinations():
            state.store.ensure_cursor(dest.name).result()
        state.suppressions.load()
        refresh = asyncio.create_task(refresh_suppressions(state.suppressions), name="suppressions")
        revocations = None
        if auth is not None:  # sessions logged out before a restart, or on another server, are refused from the start
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(auth.load_revocations)
            revocations = asyncio.create_task(auth.keep_revocations(), name="session revocations")
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
            for task in (refresh, revocations):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            with contextlib.suppress(Exception):  # the last few seconds' drop counts (the store may be down)
                await asyncio.to_thread(state.suppressions.flush)
            await slot.stop()
            await sdk_proxy.stop()
            if evaluator is not None:
                evaluator.close()
            if owned:
                state.store.close()

    routes = [
        Route("/health", health),
        Route("/ready", ready),
        *favicon_routes(),
        *device_mode_routes(state, sdk_proxy),
        *demo_routes(state),
    ]
    auth: AdminAuth | None = None
    evaluator: Evaluator | None = None
    admin_routes: list[Any] = []
    if config.admin is not None:
        console = _console()
        pages = console.Pages(require_page_session) if console is not None else None
        auth = AdminAuth(state, stylesheets=(pages.stylesheet,) if pages is not None else ())
        evaluator = Evaluator()
        admin_routes = [
            *admin_api_routes(state, auth, evaluator),
            *(console.routes(pages) if pages is not None else []),
        ]
    separate = config.admin is not None and config.admin.listen is not None
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
    app.state.evaluator = evaluator
    if separate:
        admin_app = Starlette(
            routes=[Route("/health", health), *favicon_routes(), *admin_routes, *metrics],
            middleware=[text_only, Middleware(AdminGate, enabled=lambda: state.config.admin is not None)],
            exception_handlers=EXCEPTION_HANDLERS,
        )
        for name, value in shared.items():
            setattr(admin_app.state, name, value)
        app.state.admin_app = admin_app
    return app
