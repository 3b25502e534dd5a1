"""The counters only this gateway sees: submits it enqueued, expired requests it swept,
webhook attempts it made, calls it answered 503 because of the store. Everything else ``/metrics`` shows is read from the store.

Each app has its own registry, never a module-level one, so two apps in one process
do not clash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry

if TYPE_CHECKING:
    from collections.abc import Iterable


class GatewayMetrics:
    """This app's registry and the counters the gateway itself bumps."""

    def __init__(self, endpoints: Iterable[str]) -> None:
        self.registry = CollectorRegistry()
        self.submitted = Counter(
            "inferq_requests_submitted",
            "Requests this gateway enqueued, by endpoint (an idempotent replay is not a new one).",
            ["endpoint"],
            registry=self.registry,
        )
        self.retention_swept = Counter(
            "inferq_retention_swept",
            "Expired requests this gateway's maintenance loop deleted, inputs and outputs included.",
            registry=self.registry,
        )
        self.webhooks = Counter(
            "inferq_webhook_deliveries",
            "Webhook attempts this gateway made, by result: delivered (2xx), retrying, failed "
            "(retries ran out) or refused (the address policy).",
            ["result"],
            registry=self.registry,
        )
        self.store_refusals = Counter(
            "inferq_store_refusals",
            "Calls this gateway answered 503 because of the store, by reason: full (its disk, or "
            "Redis's memory, takes no writes; reads go on) or unavailable (unreachable).",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("full", "unavailable"):
            self.store_refusals.labels(reason)
        for endpoint in endpoints:  # a series from the start, so rate() sees the first submit
            self.submitted.labels(endpoint)
