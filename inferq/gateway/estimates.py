"""When a pending or running request should start and end, from measured service times.

The estimate is the endpoint's mean run time (every run the store has counted) times
the work ahead of the request, shared among the endpoint's ready workers; a running
request that reports progress is extrapolated from it instead. Estimates are hints for
people watching a queue, so each endpoint's figures are read from the store at most
once a second per gateway, whatever the number of pollers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferq.domain import clock
from inferq.domain.clock import isoformat
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
    """An endpoint's mean run time and capacity, as read at ``read_at`` (a monotonic time)."""

    mean_run_s: float | None
    ready_workers: int
    running: int
    read_at: float


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
        fresh = ServiceTime(totals.histograms["run"].mean, stats.ready_workers, stats.running, loop.time())
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
        start = _pending_start(record, times, now)
        end = None if start is None or times.mean_run_s is None else start + times.mean_run_s
        doc["estimated_start_at"] = isoformat(start)
        doc["estimated_completed_at"] = isoformat(end)
        return doc


def _pending_start(record: RequestRecord, times: ServiceTime, now: float) -> float | None:
    if times.mean_run_s is None or times.ready_workers == 0:
        return None
    ahead = (record.queue_position or 0) + times.running
    return now + times.mean_run_s * ahead / times.ready_workers


def _running_end(record: RequestRecord, times: ServiceTime, now: float) -> float | None:
    elapsed = max(0.0, now - (record.started_at or now))
    if record.progress is not None and record.progress >= MIN_PROGRESS:
        return now + elapsed * (1 - record.progress) / record.progress
    if times.mean_run_s is None:
        return None
    return now + max(0.0, times.mean_run_s - elapsed)
