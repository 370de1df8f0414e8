"""`serve` (tracking API + delivery worker) and `worker` (delivery alone, against the same store)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal

import click

from ..key_hygiene import log_key_warnings
from ..pipeline import StoreError
from ..terminal import install_safe_logging
from .common import fail, load_config_or_exit

COMMANDS: list[click.Command] = []


def _logging(level: str) -> None:
    install_safe_logging(level, "%(asctime)s %(levelname)s %(name)s: %(message)s")  # event data escaped in the log


@click.command("serve")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="YAML configuration.")
@click.option("--host", default=None, help="Overrides server.host.")
@click.option("--port", default=None, type=int, help="Overrides server.port.")
@click.option("--no-worker", is_flag=True, help="Only accept events; deliver them with a separate `actions-1flow worker`.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve_command(config_path: str, host: str | None, port: int | None, no_worker: bool, log_level: str) -> None:
    """Run the server: tracking API, settings CDN and plugin for device mode, and the delivery worker."""
    import uvicorn

    from ..server import create_app
    from ..server.connections import limited_protocol

    config = load_config_or_exit(config_path)
    _logging(log_level)
    log_key_warnings(config)
    try:
        app = create_app(config, run_worker=not no_worker)
    except StoreError as exc:
        fail(str(exc))
    tls = config.server.tls
    limits = config.server
    gc.freeze()  # what start-up built lives for the whole run: keep it out of every full collection
    uvicorn.run(
        app,
        host=host or config.server.host,
        port=config.server.port if port is None else port,
        log_level=log_level,
        log_config=None,  # uvicorn's records go to the root handler (escaping) set up above
        access_log=False,
        timeout_graceful_shutdown=10,
        ssl_certfile=tls.cert if tls else None,
        ssl_keyfile=tls.key if tls else None,
        http=limited_protocol(limits.max_header_bytes, limits.header_timeout),
        limit_concurrency=limits.max_connections,
        backlog=limits.backlog,
        timeout_keep_alive=limits.keep_alive_timeout,  # type: ignore[arg-type]  # a float works: it feeds call_later
    )


@click.command("worker")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="YAML configuration.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def worker_command(config_path: str, log_level: str) -> None:
    """Deliver stored events of the configuration's cloud-mode destinations (no HTTP server)."""
    from ..server import build_worker, open_store

    config = load_config_or_exit(config_path)
    _logging(log_level)
    log_key_warnings(config)
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
        await worker.start()
        click.echo(f"worker for {len(worker.destinations)} cloud destination(s) on {store.description}", err=True)
        try:
            await stop.wait()
        finally:
            await worker.stop()
            store.close()

    asyncio.run(run())


COMMANDS.extend([serve_command, worker_command])
