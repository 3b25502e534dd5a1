"""When a pending or running request should start and end, from measured service times.

The estimate is the cost of the work ahead of the request (:mod:`inferq.domain.scheduling`)
times the endpoint's measured seconds of run per unit of cost, plus each request's
overhead (the time a worker spends between runs: its claim and its result's write,
measured while the endpoint is busy), plus a mean run for each request running, shared
among the endpoint's ready workers; a running request that reports progress is
extrapolated from it instead. Each endpoint's figures are read from the store at most
once a second per gateway, whatever the number of pollers.

A deadline (``Cancel-After``) is checked against these at submit, and the check and the
enqueue hold the endpoint's reservation (:meth:`Estimates.reserving`), so two submits of
one gateway never both count on the same room before a deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
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

#: How long one reading of an endpoint's figures is used; one that had nothing measured yet
#: is read again sooner, so that the first runs' figures reach deadlines and order keys at once.
REFRESH_S = 1.0
UNMEASURED_REFRESH_S = 0.05
#: Below this reported progress, elapsed time says too little to extrapolate from.
MIN_PROGRESS = 0.05
#: The weight of each new measure of the overhead per request in its running mean.
OVERHEAD_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class ServiceTime:
    """An endpoint's mean run time, run per unit of cost, overhead per request and
    capacity, as read at ``read_at`` (a monotonic time), with what the next reading
    measures the overhead from."""

    mean_run_s: float | None
    seconds_per_cost: float | None
    ready_workers: int
    running: int
    read_at: float
    #: None until measured (then 0 in the estimates).
    overhead_s: float | None = None
    pending: int = 0
    runs: int = 0
    run_sum_s: float = 0.0

    @property
    def pace(self) -> float:
        """Seconds of run per unit of cost, as the queue orders by it (a default until measured)."""
        return self.seconds_per_cost or DEFAULT_SECONDS_PER_COST

    def start(self, cost_ahead: float, requests_ahead: int, now: float) -> float | None:
        """When work behind ``requests_ahead`` requests costing ``cost_ahead`` should start;
        None until measured."""
        if self.mean_run_s is None or self.seconds_per_cost is None or self.ready_workers == 0:
            return None
        overhead = self.overhead_s or 0.0
        busy = (
            cost_ahead * self.seconds_per_cost
            + requests_ahead * overhead
            + self.running * (self.mean_run_s + overhead)
        )
        return now + busy / self.ready_workers

    def end(self, start: float, cost: float) -> float:
        """When a request of ``cost`` started at ``start`` should end."""
        return start + cost * self.pace + (self.overhead_s or 0.0)

    def overhead_since(self, earlier: ServiceTime) -> float | None:
        """The running mean of the overhead per request (the first measure as it is), with
        what the workers did since ``earlier`` when they were busy all along (work waiting
        at both readings, the same workers): their time beyond the runs that ended, per run."""
        runs = self.runs - earlier.runs
        busy = earlier.pending > 0 and self.pending > 0 and earlier.ready_workers == self.ready_workers
        if not busy or runs <= 0 or self.ready_workers == 0:
            return earlier.overhead_s
        spent = (self.read_at - earlier.read_at) * self.ready_workers - (self.run_sum_s - earlier.run_sum_s)
        measured = max(0.0, spent / runs)
        if earlier.overhead_s is None:
            return measured
        return earlier.overhead_s + OVERHEAD_WEIGHT * (measured - earlier.overhead_s)


class Estimates:
    """Per-gateway cache of each endpoint's service time, and the estimates made from it."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._times: dict[str, ServiceTime] = {}
        #: The reading under way per endpoint: the submits that find the cache stale at once
        #: share it, rather than each reading the store (64 in flight made 64 readings).
        self._readings: dict[str, asyncio.Future[ServiceTime]] = {}
        self._reservations: dict[str, asyncio.Lock] = {}

    def reserving(self, endpoint: str) -> asyncio.Lock:
        """Held from a deadline's check to its enqueue: the next check sees what it queued."""
        return self._reservations.setdefault(endpoint, asyncio.Lock())

    async def service_time(self, endpoint: str) -> ServiceTime:
        cached = self._times.get(endpoint)
        if cached is not None:
            age = asyncio.get_running_loop().time() - cached.read_at
            if age < (REFRESH_S if cached.seconds_per_cost is not None else UNMEASURED_REFRESH_S):
                return cached
        reading = self._readings.get(endpoint)
        if reading is None:
            reading = self._readings[endpoint] = asyncio.ensure_future(self._read(endpoint, cached))
            reading.add_done_callback(lambda done: self._read_done(endpoint, done))
        return await asyncio.shield(reading)  # a caller that goes away leaves it to the others

    def _read_done(self, endpoint: str, reading: asyncio.Future[ServiceTime]) -> None:
        del self._readings[endpoint]
        if not reading.cancelled():
            reading.exception()  # retrieved: each caller still gets it

    async def _read(self, endpoint: str, cached: ServiceTime | None) -> ServiceTime:
        stats, totals = await asyncio.gather(
            self._backend.endpoint_stats(endpoint), self._backend.endpoint_totals(endpoint)
        )
        runs = totals.histograms["run"]
        fresh = ServiceTime(
            runs.mean,
            totals.seconds_per_cost,
            stats.ready_workers,
            stats.running,
            asyncio.get_running_loop().time(),
            pending=stats.pending,
            runs=runs.count,
            run_sum_s=runs.sum,
        )
        if cached is not None:
            fresh = dataclasses.replace(fresh, overhead_s=fresh.overhead_since(cached))
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
        start = times.start(record.cost_ahead or 0.0, record.queue_position or 0, now)
        end = None if start is None else times.end(start, record.cost)
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
