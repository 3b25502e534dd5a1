"""Prometheus metrics at ``GET /metrics``, for admin tokens only: its totals span every tenant.

Two sources, so that nothing is counted twice however many gateways and workers run:

- this gateway's own counters (:mod:`inferq.gateway.counters`), of what only it sees: the
  submits it enqueued, the expired requests its maintenance loop deleted, its webhook
  attempts. Every gateway has its own series: sum them.
- the store, read at scrape time: requests finished by status and the latency histograms,
  counted by the store as each request ends (workers have no port to scrape, and several
  gateways may watch one request end; see :mod:`inferq.backends.counters`), and gauges of
  each endpoint's queue and workers (:meth:`Backend.endpoint_stats`, costing what is
  queued, not what is retained). These are deployment-wide, so every gateway reports the
  same values: aggregate them across gateways with ``max``, not ``sum``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.responses import Response

from inferq.backends import BackendUnavailable
from inferq.gateway.admin import require_admin
from inferq.gateway.scaling import workers_needed
from inferq.gateway.state import state_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from prometheus_client.metrics_core import Metric
    from starlette.requests import Request

    from inferq.backends import Backend, EndpointStats
    from inferq.backends.counters import EndpointTotals

log = logging.getLogger(__name__)

_GAUGES: tuple[tuple[str, str, Callable[[EndpointStats], float]], ...] = (
    ("inferq_queue_depth", "Requests pending (queued, not yet running), by endpoint.", lambda s: s.pending),
    ("inferq_requests_running", "Requests a worker is running now, by endpoint.", lambda s: s.running),
    (
        "inferq_oldest_pending_age_seconds",
        "Seconds the oldest pending request has waited (0 if none), by endpoint.",
        lambda s: s.oldest_pending_age_s or 0.0,
    ),
    (
        "inferq_workers",
        "Workers with a live heartbeat, loading their model or ready, by endpoint.",
        lambda s: s.workers,
    ),
    (
        "inferq_workers_ready",
        "Workers with a live heartbeat and their model loaded, by endpoint.",
        lambda s: s.ready_workers,
    ),
)
_ENDED = "of requests that ended after they started running, counted by the store as each ends, by endpoint"
_HISTOGRAMS = {
    "queue_wait": (
        "inferq_queue_wait_seconds",
        f"Seconds from submit to the start of the last run {_ENDED}.",
    ),
    "run": ("inferq_run_seconds", f"Seconds from the start of the last run to the end {_ENDED}."),
    "end_to_end": ("inferq_end_to_end_seconds", f"Seconds from submit to the end {_ENDED}."),
}


async def metrics(request: Request) -> Response:
    require_admin(request, "/metrics (totals over every tenant)")
    state = state_of(request)
    store = await read_store(state.backend, list(state.endpoints), state.settings.target_wait_s)
    return Response(generate_latest(_Scrape(state.metrics.registry, store)), media_type=CONTENT_TYPE_LATEST)


class _Scrape(Collector):
    """One scrape: the gateway's own metrics, then the store's as read for it."""

    def __init__(self, own: CollectorRegistry, store: list[Metric]) -> None:
        self.own = own
        self.store = store

    def collect(self) -> Iterable[Metric]:
        yield from self.own.collect()
        yield from self.store


async def read_store(backend: Backend, endpoints: list[str], target_wait_s: float) -> list[Metric]:
    """The store's families; while it is unreachable only ``inferq_backend_up 0``, so the
    gateway's own counters are still scraped and the outage is visible."""
    up = GaugeMetricFamily("inferq_backend_up", "1 when this scrape could read the store, else 0.")
    try:
        stats = await asyncio.gather(*(backend.endpoint_stats(name) for name in endpoints))
        totals = await asyncio.gather(*(backend.endpoint_totals(name) for name in endpoints))
    except BackendUnavailable as exc:
        log.warning("metrics without the store: %s", exc)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    by_endpoint = dict(zip(endpoints, zip(stats, totals, strict=True), strict=True))
    return [
        up,
        *_gauges(dict(zip(endpoints, stats, strict=True))),
        *_totals(dict(zip(endpoints, totals, strict=True))),
        _scaling(by_endpoint, target_wait_s),
    ]


def _scaling(by_endpoint: dict[str, tuple[EndpointStats, EndpointTotals]], target_wait_s: float) -> Metric:
    family = GaugeMetricFamily(
        "inferq_workers_needed",
        f"Workers that would drain the pending and running requests within --target-wait "
        f"({target_wait_s:g} s) at the measured mean run time; 0 when the queue is empty, by endpoint.",
        labels=["endpoint"],
    )
    for endpoint, (stats, totals) in by_endpoint.items():
        needed = workers_needed(stats.pending, stats.running, totals.histograms["run"], target_wait_s)
        family.add_metric([endpoint], needed)
    return family


def _gauges(stats: dict[str, EndpointStats]) -> Iterator[Metric]:
    for name, doc, read in _GAUGES:
        family = GaugeMetricFamily(name, doc, labels=["endpoint"])
        for endpoint, endpoint_stats in stats.items():
            family.add_metric([endpoint], read(endpoint_stats))
        yield family


def _totals(totals: dict[str, EndpointTotals]) -> Iterator[Metric]:
    finished = CounterMetricFamily(
        "inferq_requests_finished",
        "Requests that ended, by endpoint and status (completed, failed, cancelled); counted by the store "
        "as each ends, whichever process ended it.",
        labels=["endpoint", "status"],
    )
    for endpoint, endpoint_totals in totals.items():
        for status, count in endpoint_totals.finished.items():
            finished.add_metric([endpoint, status], count)
    yield finished
    for key, (name, doc) in _HISTOGRAMS.items():
        family = HistogramMetricFamily(name, doc, labels=["endpoint"])
        for endpoint, endpoint_totals in totals.items():
            histogram = endpoint_totals.histograms[key]
            family.add_metric([endpoint], list(histogram.buckets), histogram.sum)
        yield family
