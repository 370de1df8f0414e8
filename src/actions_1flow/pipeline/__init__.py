"""Durable delivery: the event log, per-destination cursors, retries, dead-letter and replay."""

from .retry import RetryPolicy
from .sqlite import SQLiteStore
from .store import DeviceEvent
from .store import STATUSES, AppendResult, DeliveryRecord, DestinationCounts, DueDelivery, LogEntry, Store, StoredEvent
from .store import StoreError

__all__ = [
    "STATUSES",
    "AppendResult",
    "DeliveryRecord",
    "DestinationCounts",
    "DeviceEvent",
    "DueDelivery",
    "LogEntry",
    "RetryPolicy",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoredEvent",
]
