"""No request starves under :mod:`inferq.domain.scheduling`'s order within a token: whatever
arrives, shortest first with ageing serves a request before everything submitted after the
moment it would have been done had it run at once (a property test over any arrivals; the
stores follow the same keys: ``tests/backends/test_scheduling.py``)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from inferq.domain.scheduling import NORMAL, order_key


@dataclass(frozen=True)
class Arrival:
    at: float
    cost: float


def serve(arrivals: list[Arrival], pace: float) -> list[float]:
    """When each request starts on one worker that, whenever it is free, runs the waiting
    request with the least order key to its end (no preemption; a run takes cost x pace)."""
    starts = [0.0] * len(arrivals)
    pending = sorted(range(len(arrivals)), key=lambda i: arrivals[i].at)
    waiting: list[tuple[float, int]] = []
    now = 0.0
    while pending or waiting:
        while pending and arrivals[pending[0]].at <= now:
            i = pending.pop(0)
            heapq.heappush(waiting, (order_key(NORMAL, arrivals[i].at, arrivals[i].cost, pace), i))
        if not waiting:
            now = arrivals[pending[0]].at
            continue
        _, i = heapq.heappop(waiting)
        starts[i] = now
        now += arrivals[i].cost * pace
    return starts


arrivals = st.lists(
    st.builds(
        Arrival,
        at=st.floats(min_value=0, max_value=1000, allow_nan=False),
        cost=st.floats(min_value=0.001, max_value=3600, allow_nan=False),
    ),
    min_size=1,
    max_size=60,
)


@given(arrivals, st.floats(min_value=0.001, max_value=10))
def test_no_request_waits_for_work_submitted_after_its_key(requests: list[Arrival], pace: float) -> None:
    starts = serve(requests, pace)
    for r, mine in enumerate(requests):
        key = mine.at + mine.cost * pace
        for s, other in enumerate(requests):
            if other.at > key:
                assert starts[r] < starts[s] or (starts[r] == starts[s] and r == s), (mine, other)


@given(arrivals, st.floats(min_value=0.001, max_value=10))
def test_every_wait_is_bounded_by_the_work_submitted_before_its_key(
    requests: list[Arrival], pace: float
) -> None:
    """So it is finite however much arrives later: at most what was submitted before the
    request's key, and the one run already under way when it arrived."""
    starts = serve(requests, pace)
    longest = max(a.cost for a in requests) * pace
    for r, mine in enumerate(requests):
        key = mine.at + mine.cost * pace
        before = sum(o.cost * pace for s, o in enumerate(requests) if s != r and o.at <= key)
        assert starts[r] - mine.at <= before + longest + 1e-6
