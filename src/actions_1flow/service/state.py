"""What the server's request handlers share (the tracking API, device mode, the admin API, the console): the
configuration, the store, the origin policy and the group appender, a way to nudge the worker, and what the worker
in this process is doing. Built by the composition root (`app`), which the handlers never import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..config import Config, SourceConfig
from ..ingest.origins import OriginPolicy
from ..pipeline import Store
from ..pipeline.appender import GroupAppender
from ..pipeline.suppression import SuppressionList
from ..pipeline.worker import DeliveryState


class DeliveryView(Protocol):
    """The delivery worker running in this process, as operators see it (`pipeline.worker.Worker` is one)."""

    def delivery_state(self, destination: str) -> DeliveryState: ...


@dataclass
class ServerState:
    """What request handlers share: the configuration, the store, and a way to nudge the worker."""

    config: Config
    store: Store
    sources_by_key: dict[str, SourceConfig]
    origins: OriginPolicy
    on_stored: list[Callable[[], None]] = field(default_factory=list)
    on_reload: list[Callable[[Config], Callable[[], None]]] = field(default_factory=list)
    """Parts built from the configuration: each is given a new one and returns how to switch to it (called only
    once every part has prepared, all in one step; see `admin.reload`)."""
    delivery: DeliveryView | None = None
    """The worker delivering in this process (None: delivery is left to a separate `actions-1flow worker`)."""
    appender: GroupAppender = field(init=False)
    suppressions: SuppressionList = field(init=False)
    """Users whose new events are dropped at ingest (refreshed from the store by the app's lifespan)."""

    def __post_init__(self) -> None:
        self.appender = GroupAppender(self.store, self.events_stored)
        self.suppressions = SuppressionList(self.store)

    def events_stored(self) -> None:
        for notify in self.on_stored:
            notify()
