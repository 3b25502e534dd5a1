"""When a pending or running request should start and end, from measured service times.

The estimate is the cost of the work ahead of the request (:mod:`inferq.domain.scheduling`)
times the endpoint's measured seconds of run per unit of cost, plus a mean run for each
request running, shared among the endpoint's ready workers; a running request that
reports progress is extrapolated from it instead. Estimates are hints for
people watching a queue, so each endpoint's figures are read from the store at most
once a second per gateway, whatever the number of pollers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferq.domain import clock
from inferq.domain.clock import isoformat
from inferq.domain.scheduling import DEFAULT_SECONDS_PER_COST
from inferq.domain.status import Status

if TYPE_CHECKING:
    from inferq.backends import Backend
    from inferq.domain.records import RequestRecord
    from inferq.protocol.requests import RequestStatus

#: How long one reading of an endpoint's figures is used.
REFRESH_S = 1.0
#: Below this reported progress, elapsed time says too little to extrapolate from.
MIN_PROGRESS = 0.05


@dataclass(frozen=True, slots=True)
class ServiceTime:
    """An endpoint's mean run time, run per unit of cost and capacity, as read at
    ``read_at`` (a monotonic time)."""

    mean_run_s: float | None
    seconds_per_cost: float | None
    ready_workers: int
    running: int
    read_at: float

    @property
    def pace(self) -> float:
        """Seconds of run per unit of cost, as the queue orders by it (a default until measured)."""
        return self.seconds_per_cost or DEFAULT_SECONDS_PER_COST

    def start(self, cost_ahead: float, now: float) -> float | None:
        """When work behind ``cost_ahead`` of cost should start; None until measured."""
        if self.mean_run_s is None or self.seconds_per_cost is None or self.ready_workers == 0:
            return None
        busy = cost_ahead * self.seconds_per_cost + self.running * self.mean_run_s
        return now + busy / self.ready_workers


class Estimates:
    """Per-gateway cache of each endpoint's service time, and the estimates made from it."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._times: dict[str, ServiceTime] = {}

    async def service_time(self, endpoint: str) -> ServiceTime:
        loop = asyncio.get_running_loop()
        cached = self._times.get(endpoint)
        if cached is not None and loop.time() - cached.read_at < REFRESH_S:
            return cached
        stats, totals = await asyncio.gather(
            self._backend.endpoint_stats(endpoint), self._backend.endpoint_totals(endpoint)
        )
        run = totals.histograms["run"].mean
        fresh = ServiceTime(run, totals.seconds_per_cost, stats.ready_workers, stats.running, loop.time())
        self._times[endpoint] = fresh
        return fresh

    async def add_to(self, doc: RequestStatus, record: RequestRecord) -> RequestStatus:
        """``record``'s status document with ``estimated_start_at`` (pending) and
        ``estimated_completed_at`` (pending or running); None where nothing has been measured yet."""
        if record.status not in (Status.PENDING, Status.RUNNING):
            return doc
        times = await self.service_time(record.endpoint)
        now = clock.now()
        if record.status is Status.RUNNING:
            doc["estimated_completed_at"] = isoformat(_running_end(record, times, now))
            return doc
        start = times.start(record.cost_ahead or 0.0, now)
        end = None if start is None else start + record.cost * times.pace
        doc["estimated_start_at"] = isoformat(start)
        doc["estimated_completed_at"] = isoformat(end)
        return doc


def _running_end(record: RequestRecord, times: ServiceTime, now: float) -> float | None:
    elapsed = max(0.0, now - (record.started_at or now))
    if record.progress is not None and record.progress >= MIN_PROGRESS:
        return now + elapsed * (1 - record.progress) / record.progress
    if times.seconds_per_cost is None:
        return None
    return now + max(0.0, record.cost * times.seconds_per_cost - elapsed)
