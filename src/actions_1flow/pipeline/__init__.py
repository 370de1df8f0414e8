"""Durable delivery: the event log, per-destination cursors, retries, dead-letter and replay."""

from .retry import RetryPolicy
from .store import (
    STATUSES,
    AppendResult,
    DeliveryRecord,
    DestinationCounts,
    DeviceEvent,
    DueDelivery,
    Lease,
    LeaseLost,
    LeaseState,
    LogEntry,
    PurgeResult,
    Store,
    StoredEvent,
    StoreError,
    StoreUnavailable,
    Suppression,
    partition_of,
)
from .stores import SQLiteStore, open_store

__all__ = [
    "STATUSES",
    "AppendResult",
    "DeliveryRecord",
    "DestinationCounts",
    "DeviceEvent",
    "DueDelivery",
    "Lease",
    "LeaseLost",
    "LeaseState",
    "LogEntry",
    "PurgeResult",
    "RetryPolicy",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredEvent",
    "Suppression",
    "open_store",
    "partition_of",
]
