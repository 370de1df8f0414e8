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
    Store,
    StoredEvent,
    StoreError,
    StoreUnavailable,
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
    "RetryPolicy",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredEvent",
    "open_store",
    "partition_of",
]
