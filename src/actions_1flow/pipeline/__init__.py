"""Durable delivery: the event log, per-destination cursors, retries, dead-letter and replay."""

from .retry import RetryPolicy
from .sqlite import SQLiteStore
from .store import STATUSES, AppendResult, DeliveryRecord, DestinationCounts, DeviceEvent, DueDelivery, LogEntry, Store, StoredEvent, StoreError

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
