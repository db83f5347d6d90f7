"""Prometheus metrics of every process, served at GET /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "dist_http_requests_total", "HTTP requests answered", ["app", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "dist_http_request_seconds",
    "HTTP request latency",
    ["app", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RELAY_PUBLISHED = Counter(
    "dist_relay_published_total", "Integration events published by the relay", ["service"]
)
RELAY_LAG = Gauge("dist_relay_lag_events", "Notifications not yet published", ["service"])
RELAY_REPUBLISHES = Counter(
    "dist_relay_republishes_total",
    "Times the relay found its topic lost by the broker and republished",
    ["service"],
)
CONSUMED = Counter(
    "dist_consumer_events_total",
    "Events handled by a consumer, by outcome",
    ["consumer", "outcome"],  # applied | duplicate | dead_lettered | ignored
)
CONSUMER_BATCH_SECONDS = Histogram(
    "dist_consumer_batch_seconds", "Time to apply and commit one batch", ["consumer"]
)
GROUP_COMMIT_COMMANDS = Histogram(
    "dist_group_commit_commands",
    "Commands written per event-store transaction (group commit)",
    ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
