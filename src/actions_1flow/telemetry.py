"""The process's Prometheus metrics (prometheus-client), defined once here, at the bottom of the layers, so that
ingest (server), the delivery worker (pipeline) and `/metrics` (admin) share them.

Counters only grow for the life of the process (Prometheus computes rates and survives restarts); the pending
gauge is read from the store when `/metrics` is scraped (see `admin.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_RECEIVED = Counter(
    "actions_1flow_events_received",
    "Events accepted by the tracking API (stored durably)",
    ["source"],
    registry=REGISTRY,
)
EVENTS_REJECTED = Counter(
    "actions_1flow_events_rejected",
    "Tracking API requests refused, by source (empty when unknown) and error code",
    ["source", "code"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "actions_1flow_deliveries",
    "Delivery outcomes recorded by the worker, by destination and status",
    ["destination", "status"],
    registry=REGISTRY,
)
API_RESPONSES = Counter(
    "actions_1flow_oneflow_responses",
    "HTTP answers from the destination's API, by destination and status code "
    "(`error` when no answer came: timeout, connection refused)",
    ["destination", "code"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "actions_1flow_delivery_seconds",
    "Seconds one delivery request to the destination's API took, answer included",
    ["destination"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
