"""`serve` (tracking API + delivery worker) and `worker` (delivery alone, against the same store)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from typing import Any

import click

from ..admin import exposure_warning
from ..pipeline import StoreError
from ..terminal import install_safe_logging
from .common import fail, load_config_or_exit

COMMANDS: list[click.Command] = []

GC_YOUNG_OBJECTS = 50_000
"""Net new container objects before a young-generation collection (CPython's default: 700). A delivery round keeps
~20,000 alive at once (500 events read, evaluated and sent, and the next round prepared meanwhile): at 700 they are
traversed and promoted dozens of times a round, ~15 % of the worker's instructions; at 50,000 most are freed by
their reference counts before any collection looks at them."""


def settle_gc() -> None:
    """After start-up: what it built lives for the whole run, so keep it out of every full collection; collect the
    young generation only every `GC_YOUNG_OBJECTS` (cycles are rare on the hot paths; they are still collected)."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])


def _logging(level: str) -> None:
    install_safe_logging(level, "%(asctime)s %(levelname)s %(name)s: %(message)s")  # event data escaped in the log
    # psycopg's pool warns at every failed connection attempt, many a second while the database is down; the store
    # says it once (`unavailable`), and again when it is back.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)


@click.command("serve")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="YAML configuration.")
@click.option("--host", default=None, help="Overrides server.host.")
@click.option("--port", default=None, type=int, help="Overrides server.port.")
@click.option(
    "--no-worker", is_flag=True, help="Only accept events; deliver them with a separate `actions-1flow worker`."
)
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve_command(config_path: str, host: str | None, port: int | None, no_worker: bool, log_level: str) -> None:
    """Run the server: tracking API, settings CDN and plugin for device mode, and the delivery worker."""
    import uvicorn

    from ..app import create_app
    from ..server.connections import limited_protocol

    _logging(log_level)  # first: loading the configuration may warn (a readable file holding a secret)
    config = load_config_or_exit(config_path)
    exposed = exposure_warning(
        host or config.server.host, config.admin.listen_address() if config.admin else None, config.admin is not None
    )
    if exposed is not None:
        logging.getLogger("actions_1flow.admin").warning(exposed)
    try:
        app = create_app(config, run_worker=not no_worker, reload_on_sighup=True)
    except StoreError as exc:
        fail(str(exc))
    tls = config.server.tls
    scheme = "https" if tls else "http"
    bound = host or config.server.host, config.server.port if port is None else port
    store = app.state.server.store.description
    click.echo(f"actions-1flow on {scheme}://{_authority(*bound)}, events stored in {store}")
    if config.admin is not None:
        console_at = config.admin.listen_address() or bound
        click.echo(f"console: {scheme}://{_authority(*console_at)}/console (log in with the admin token)")
    limits = config.server
    common = {
        "log_level": log_level,
        "log_config": None,  # uvicorn's records go to the root handler (escaping) set up above
        "access_log": False,
        "timeout_graceful_shutdown": 10,
        "ssl_certfile": tls.cert if tls else None,
        "ssl_keyfile": tls.key if tls else None,
        "http": limited_protocol(
            limits.max_header_bytes, limits.header_timeout, limits.max_connections_per_client, limits.trusted_proxies
        ),
        # X-Forwarded-For/-Proto are believed from the configured proxies only (uvicorn's default trusts 127.0.0.1,
        # so behind a proxy that passes the client's own header any address could be claimed)
        "proxy_headers": bool(limits.trusted_proxies),
        "forwarded_allow_ips": limits.trusted_proxies or None,
        "limit_concurrency": limits.max_connections,
        "backlog": limits.backlog,
        "timeout_keep_alive": limits.keep_alive_timeout,  # a float works: it feeds call_later
    }
    main = uvicorn.Config(
        app,
        host=host or config.server.host,
        port=config.server.port if port is None else port,
        **common,  # type: ignore[arg-type]
    )
    settle_gc()
    admin_app = app.state.admin_app
    if admin_app is None:
        uvicorn.Server(main).run()
        return
    assert config.admin is not None
    listen = config.admin.listen_address()
    assert listen is not None
    admin = uvicorn.Config(admin_app, host=listen[0], port=listen[1], lifespan="off", **common)  # type: ignore[arg-type]
    asyncio.run(_serve_both(uvicorn.Server(main), uvicorn.Server(admin)))


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _serve_both(main: Any, admin: Any) -> None:
    """The public server and the console/admin server in one process; either stopping stops the other (the public
    one, which runs the app's lifespan and the worker, shuts down last)."""
    main_task = asyncio.create_task(main.serve(), name="server")
    while not main.started and not main_task.done():
        await asyncio.sleep(0.02)
    admin_task = asyncio.create_task(admin.serve(), name="admin-server")
    await asyncio.wait({main_task, admin_task}, return_when=asyncio.FIRST_COMPLETED)
    admin.should_exit = True
    main.should_exit = True
    await asyncio.gather(main_task, admin_task, return_exceptions=True)


@click.command("worker")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="YAML configuration.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def worker_command(config_path: str, log_level: str) -> None:
    """Deliver stored events of the configuration's cloud-mode destinations (no HTTP server)."""
    from ..app import build_worker, open_store

    _logging(log_level)  # first: loading the configuration may warn (a readable file holding a secret)
    config = load_config_or_exit(config_path)
    try:
        store = open_store(config)
    except StoreError as exc:
        fail(str(exc))

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        worker = build_worker(config, store)
        settle_gc()
        await worker.start()
        count = len(worker.destinations)
        destinations = f"{count} cloud destination{'s' if count != 1 else ''}"
        click.echo(f"worker for {destinations}, events stored in {store.description}")
        try:
            await stop.wait()
        finally:
            await worker.stop()
            store.close()

    asyncio.run(run())


COMMANDS.extend([serve_command, worker_command])
