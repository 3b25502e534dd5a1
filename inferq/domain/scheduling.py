"""The order the queue serves requests in, stated once: priorities, costs and fair shares.

Each request carries a *cost*, the endpoint's estimate of its work made at submit (Whisper:
seconds of audio; echo: ``delay_s``; any other: 1), and a *priority* its caller chose.

**Across tokens**, an endpoint's time is shared by cost, not by count (start-time fair
queuing): each token with requests waiting has a *virtual time*, the cost of its requests
served so far, and the token whose virtual time is least goes next (the earliest to join
first on a tie); serving a request adds its cost. A token that starts waiting again takes
the endpoint's *virtual clock* (the virtual time of the token served last) when it is
ahead of its own, so time spent idle is never banked as credit. A token's one-hour file
thus counts 1,200 times a three-second clip, and the clip's token is served 1,200 clips
before the file's token gets its next file.

**Within a token**, priority first (``high`` before ``normal`` before ``low``; strictly, as
a caller orders its own work), then the least *order key*: when the request was submitted
plus its estimated run time (its cost times the endpoint's measured seconds per unit of
cost). Shorter work goes first, but never forever: a request is served before every
request of its token and priority submitted after its key, so it waits at most for those
submitted before that moment (no starvation; ``tests/test_scheduling.py`` proves it).

**Before every token's share**: requests given back after a lost worker (see
:mod:`inferq.domain.lifecycle`), then ``urgent`` ones, a level only admin tokens may ask
for (an operator's fix-it-now work), by order key; they are outside the fair shares and
never counted in them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Priority = Literal["urgent", "high", "normal", "low"]
#: The priorities by name, and their level (lower goes first).
PRIORITIES: dict[Priority, int] = {"urgent": -1, "high": 0, "normal": 1, "low": 2}
DEFAULT_PRIORITY: Priority = "normal"
NORMAL = PRIORITIES[DEFAULT_PRIORITY]
#: The level of admin tokens only, served before every token's share.
URGENT = PRIORITIES["urgent"]
#: Each priority level's order keys lie in a span of their own this wide (seconds), so that
#: one number orders a token's requests by priority, then by key.
PRIORITY_SPAN_S = 1e10
#: The cost of a request whose endpoint makes no estimate.
DEFAULT_COST = 1.0
#: No request costs less: a cost of zero would never move its token's virtual time.
MIN_COST = 1e-3
#: Seconds of run time per unit of cost until the endpoint has run anything.
DEFAULT_SECONDS_PER_COST = 1.0


def priority_name(level: int) -> Priority:
    return next(name for name, value in PRIORITIES.items() if value == level)


def bounded_cost(cost: float) -> float:
    """An endpoint's estimate as the queue counts it: finite and at least :data:`MIN_COST`."""
    return max(MIN_COST, cost) if math.isfinite(cost) else DEFAULT_COST


def order_key(level: int, created_at: float, cost: float, seconds_per_cost: float) -> float:
    """Where a request goes among its token's: by priority ``level``, then by the moment it
    would be done if it ran as soon as it was submitted."""
    return level * PRIORITY_SPAN_S + created_at + cost * seconds_per_cost


def is_urgent(key: float) -> bool:
    """Whether an order key is of an :data:`URGENT` request (its span lies below zero)."""
    return key < 0


@dataclass(frozen=True, slots=True)
class Turn:
    """A token's place in the fair share of an endpoint: its virtual time, what breaks a
    tie at the same virtual time (the least goes first: when it joined, or its name), and
    how many requests it has waiting at what total cost."""

    virtual_time: float
    tiebreak: Any
    waiting: int
    waiting_cost: float

    @property
    def mean_cost(self) -> float:
        return self.waiting_cost / self.waiting if self.waiting else DEFAULT_COST


@dataclass(frozen=True, slots=True)
class Place:
    """What the queue serves before a pending request: how many requests, at what cost."""

    position: int
    cost_ahead: float


def fair_place(
    rank: int, mine: Turn, others: Iterable[Turn], requeued: int = 0, requeued_cost: float = 0
) -> Place:
    """Where a pending request stands: the requests (and their cost) served before it.

    First the ``requeued`` ones, back after a lost worker. Then its own token's ``rank``
    requests ahead of it, whose cost is taken as its token's mean; so it starts at the
    virtual time ``mine.virtual_time + rank * mean``. Each other token is served, from its
    own virtual time, until it passes that one (on a tie, one more where its tie-break goes
    first), and no further than it has waiting; its requests count at its mean cost.
    A requeued request has no rank and no turn: only ``requeued`` counts for it.
    """
    start = mine.virtual_time + rank * mine.mean_cost
    position, cost = requeued + rank, requeued_cost + rank * mine.mean_cost
    for other in others:
        span = start - other.virtual_time
        served = 0 if span < 0 else math.ceil(span / other.mean_cost - 1e-9)
        if span >= 0 and other.tiebreak < mine.tiebreak and served * other.mean_cost <= span + 1e-9:
            served += 1  # its turn comes first at the same virtual time
        served = min(other.waiting, served)
        position += served
        cost += min(other.waiting_cost, served * other.mean_cost)
    return Place(position, cost)
