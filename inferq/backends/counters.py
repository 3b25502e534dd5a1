"""Per-endpoint totals kept by the store: requests ended, by status, and latency histograms.

Workers have no HTTP port and any number of gateways may watch a request end, so neither
can count ends without missing or repeating some. The store can: every move that ends a
request (:mod:`inferq.domain.lifecycle`: complete, fail, cancel, give up) bumps these
counters in its own transaction or script (the SQLite ``count_ends`` triggers, the Redis
``end_request`` helper), whichever process made it, so every end counts exactly once. They are
aggregates, not request data, so retention leaves them alone.

Both backends store the same flat ``name → number`` pairs per endpoint, named here:
``finished:<status>``, ``<histogram>:le:<bound>`` (observations in that bucket alone,
not cumulative) and ``<histogram>:sum``, and the pace's two sums. The SQL and Lua that bump them are generated
from :data:`LATENCY_BUCKETS`, so the three cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from inferq.domain.status import Status

#: Upper bounds, in seconds, of every latency histogram: from an echo's milliseconds to
#: long transcriptions that queue and run for many minutes.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)
#: Bucket labels as Prometheus writes them (``le="0.005"``, ``"1.0"``, ``"+Inf"``).
LE: tuple[str, ...] = (*(repr(bound) for bound in LATENCY_BUCKETS), "+Inf")
#: Observed for every request that ends after it started running: ``started_at - created_at``,
#: ``completed_at - started_at`` and ``completed_at - created_at``.
HISTOGRAMS = ("queue_wait", "run", "end_to_end")
#: The summed run time and cost (:mod:`inferq.domain.scheduling`) of the requests that
#: completed: the endpoint's pace, seconds of run per unit of cost (a run cut short by a
#: cancel or a failure says nothing of what its whole cost takes).
PACE_RUN, PACE_COST = "pace:run", "pace:cost"
#: Statuses a request ends in, each counted under ``finished:<status>``.
FINISHED = tuple(status.value for status in Status if status.is_terminal)


@dataclass(frozen=True, slots=True)
class Histogram:
    """Cumulative ``(le, count)`` pairs ending with ``+Inf``, and the sum of what was observed."""

    buckets: tuple[tuple[str, int], ...]
    sum: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]

    @property
    def mean(self) -> float | None:
        """The mean of what was observed; None before the first observation."""
        return self.sum / self.count if self.count else None

    @classmethod
    def from_counters(cls, name: str, counters: Mapping[str, float]) -> Histogram:
        running, buckets = 0, []
        for le in LE:
            running += int(counters.get(f"{name}:le:{le}", 0))
            buckets.append((le, running))
        return cls(tuple(buckets), counters.get(f"{name}:sum", 0.0))


@dataclass(frozen=True, slots=True)
class EndpointTotals:
    """What one endpoint's counters add up to since the store was created."""

    finished: dict[str, int]
    histograms: dict[str, Histogram]
    #: The run time and cost of the requests that completed.
    pace_run: float = 0.0
    pace_cost: float = 0.0

    @property
    def seconds_per_cost(self) -> float | None:
        """Seconds of run per unit of cost, measured; None before a request completed."""
        return self.pace_run / self.pace_cost if self.pace_cost > 0 else None

    @classmethod
    def from_counters(cls, counters: Mapping[str, float]) -> EndpointTotals:
        """Read the stored pairs; a counter never bumped reads as 0."""
        return cls(
            finished={status: int(counters.get(f"finished:{status}", 0)) for status in FINISHED},
            histograms={name: Histogram.from_counters(name, counters) for name in HISTOGRAMS},
            pace_run=counters.get(PACE_RUN, 0.0),
            pace_cost=counters.get(PACE_COST, 0.0),
        )
