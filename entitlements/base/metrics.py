"""The service's Prometheus metrics (prometheus-client), defined once and served at
/metrics. Under ``entitlements serve`` every worker process writes its samples to
PROMETHEUS_MULTIPROC_DIR and /metrics adds them up (prometheus-client's multiprocess mode).

Labels are bounded sets (endpoint names, error and reason codes, grant names): never a
client id, a subject, a token or an address."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds: from a cache hit to a slow database commit.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)

TOKENS_ISSUED = Counter("entitlements_tokens_issued", "Access tokens issued, by grant.",
                        ["grant"])
REFUSED = Counter("entitlements_requests_refused",
                  "Refused OAuth, partner and admin requests, by endpoint and reason.",
                  ["endpoint", "reason"])
THROTTLED = Counter("entitlements_requests_throttled", "Requests answered 429, by limit.",
                    ["scope"])
REQUEST_SECONDS = Histogram("entitlements_request_seconds",
                            "Time from a request's arrival in the app to its answer.",
                            ["endpoint", "method"], buckets=LATENCY_BUCKETS)
LEDGER_WRITE_SECONDS = Histogram(
    "entitlements_ledger_write_seconds",
    "Time to commit a batch of issued tokens' records and audit events.", buckets=LATENCY_BUCKETS)
LEDGER_BATCH_TOKENS = Histogram(
    "entitlements_ledger_batch_tokens",
    "Tokens committed together in one ledger write (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64))
STATUS_LIST_REBUILDS = Counter("entitlements_status_list_rebuilds",
                               "Status lists read from the database and signed again.")
STATUS_LIST_REBUILD_SECONDS = Histogram(
    "entitlements_status_list_rebuild_seconds", "Time to read and sign a status list.",
    buckets=LATENCY_BUCKETS)


def exposition() -> tuple[bytes, str]:
    """Every metric in the text format, all worker processes' when there are several."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
