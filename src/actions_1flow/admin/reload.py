"""Configuration reload without downtime: `SIGHUP` to `serve`, `POST /admin/api/v1/reload`, the console's button.

The YAML file the server started from is read and validated again. A configuration with problems is refused
with the usual file/line/key messages and the running one stays. Otherwise the running `ServerState` takes the
new sources and destinations in one step of the event loop (no request sees half of each): write keys, origins,
rate limits, the settings CDN's documents, device-mode report routing, and the delivery worker (the old one
finishes its round in flight and stops, the new one starts from the recorded cursors). Tracking requests never
wait for any of it: they are answered throughout, from the old configuration until the swap and the new one after.

What cannot change without a restart is refused (`storage`, `pipeline.partitions`) or reported as needing one
(`server.host`/`port`/`tls`, `admin.listen`, the hosted vendor SDKs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError, ConfigProblem, load_config
from ..ingest.origins import OriginPolicy
from ..service.state import ServerState

log = logging.getLogger("actions_1flow.admin")


@dataclass
class ReloadResult:
    ok: bool
    problems: list[str] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "restart_needed": self.restart_needed}
        return {"ok": False, "problems": self.problems}


def _problems(file: str | Path, problems: list[ConfigProblem]) -> list[str]:
    return str(ConfigError(file, problems)).splitlines()


class Reloader:
    """Reloads one server's configuration; one reload at a time."""

    def __init__(
        self,
        state: ServerState,
        restart_worker: Callable[[Config], Awaitable[None]] | None = None,
        load: Callable[[Path], Config] = load_config,
    ) -> None:
        self.state = state
        self.restart_worker = restart_worker
        self._load = load
        self._lock = asyncio.Lock()
        self.reloads = 0

    async def reload(self) -> ReloadResult:
        async with self._lock:
            return await self._reload()

    async def _reload(self) -> ReloadResult:
        old = self.state.config
        file = old.file
        if file is None:
            return ReloadResult(False, ["the server's configuration was not read from a file: nothing to reload"])
        try:
            new = await asyncio.to_thread(self._load, file)
        except ConfigError as exc:
            _log_refusal(str(exc).splitlines())
            return ReloadResult(False, str(exc).splitlines())
        refused = []
        if new.storage != old.storage:
            refused.append(
                ConfigProblem(("storage",), "cannot change while the server runs (restart it to use another store)")
            )
        if new.pipeline.partitions != old.pipeline.partitions:
            refused.append(
                ConfigProblem(
                    ("pipeline", "partitions"),
                    "cannot change while the server runs (and is fixed when the store is created)",
                )
            )
        if (new.admin is None) != (old.admin is None):
            refused.append(ConfigProblem(("admin",), "turning the console on or off needs a restart"))
        if refused:
            problems = _problems(file, refused)
            _log_refusal(problems)
            return ReloadResult(False, problems)
        restart = [
            name
            for name, a, b in (
                ("server.host", old.server.host, new.server.host),
                ("server.port", old.server.port, new.server.port),
                ("server.tls", old.server.tls, new.server.tls),
                ("admin.listen", old.admin.listen if old.admin else None, new.admin.listen if new.admin else None),
            )
            if a != b
        ]
        self.swap(new)
        if self.restart_worker is not None:
            await self.restart_worker(new)
        self.reloads += 1
        log.info(
            "configuration reloaded from %s: %d source(s), %d destination(s)%s",
            file,
            len(new.sources),
            len(new.destinations),
            f"; restart to apply {', '.join(restart)}" if restart else "",
        )
        return ReloadResult(True, restart_needed=restart)

    def swap(self, new: Config) -> None:
        """Put `new` in place for every request from now on (synchronous: no request runs in between)."""
        state = self.state
        origins = OriginPolicy({s.name: s.cors_origins for s in new.sources}, new.server.public_url)
        sources_by_key = {k: s for s in new.sources for k in s.accepted_write_keys()}
        prepared = [prepare(new) for prepare in state.on_reload]  # may raise: then nothing was swapped
        state.config = new
        state.sources_by_key = sources_by_key
        state.origins = origins
        for commit in prepared:
            commit()


def _log_refusal(problems: list[str]) -> None:
    """One log record per line (the log escapes line breaks inside a record, so each problem gets its own)."""
    log.error("configuration reload refused; keeping the running one:")
    for line in problems:
        log.error("  %s", line)
