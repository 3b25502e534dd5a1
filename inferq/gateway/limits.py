"""Admission limits on submits: a rate per token, queue lengths per endpoint and per token.

Each refusal is a 429 whose ``Retry-After`` says when to come back. The rate limit is a
token bucket held in this gateway process: N gateways behind a balancer admit up to N
times the rate, because a shared bucket would cost a store round trip on every submit.
The queue limits read the store, so they hold across gateways, but softly: submits that
race one another may pass a limit by as many as arrive together.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from inferq.errors import TooManyRequests

if TYPE_CHECKING:
    from inferq.backends import Backend
    from inferq.settings import Settings

#: A full queue drains at the workers' pace, which the gateway does not know: come back soon.
QUEUE_RETRY_AFTER_S = 1


class TokenBucket:
    """``rate`` per second per key, in bursts of up to ``burst``; one bucket per key seen."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)

    def take(self, key: str, now: float, count: int = 1) -> float:
        """Spend ``count`` for ``key``: 0.0 when allowed, else the seconds until they are
        available. A batch larger than ``burst`` passes on a full bucket and leaves it in
        debt, so the token's rate over time still holds."""
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        need = min(count, self.burst)
        if tokens < need:
            self._buckets[key] = (tokens, now)
            return (need - tokens) / self.rate
        self._buckets[key] = (tokens - count, now)
        return 0.0


class Admission:
    """The limits ``inferq serve`` was given (``--rate-limit``, ``--max-queue``,
    ``--max-queue-per-token``); each check passes when its limit is not set."""

    def __init__(self, settings: Settings) -> None:
        self.max_queue = settings.max_queue
        self.max_per_token = settings.max_queue_per_token
        rate = settings.rate_limit
        self._bucket = TokenBucket(rate, max(1.0, rate)) if rate is not None else None

    def check_rate(self, tenant: str, count: int = 1) -> None:
        """Refuse ``count`` submits beyond the token's rate; cheap, so a single submit's
        check runs before its body is read."""
        if self._bucket is None:
            return
        wait = self._bucket.take(tenant, time.monotonic(), count)
        if wait > 0:
            raise TooManyRequests(
                f"this token is limited to {self._bucket.rate:g} submits per second (--rate-limit)",
                retry_after=max(1, math.ceil(wait)),
            )

    async def check_queues(self, backend: Backend, endpoint: str, tenant: str, count: int = 1) -> None:
        """Refuse ``count`` submits that would take the endpoint's queue or the token's
        backlog past its limit."""
        if self.max_queue is not None:
            pending = (await backend.endpoint_stats(endpoint)).pending
            if pending + count > self.max_queue:
                raise TooManyRequests(
                    f"endpoint {endpoint!r} has {pending} requests waiting; {count} more would pass "
                    f"its limit of {self.max_queue} (--max-queue)",
                    retry_after=QUEUE_RETRY_AFTER_S,
                    limit=self.max_queue,
                )
        if self.max_per_token is not None:
            active = await backend.count_active(tenant, self.max_per_token)
            if active + count > self.max_per_token:
                raise TooManyRequests(
                    f"this token has {active} requests pending or running; {count} more would pass its "
                    f"limit of {self.max_per_token} (--max-queue-per-token): wait for some to finish",
                    retry_after=QUEUE_RETRY_AFTER_S,
                    limit=self.max_per_token,
                )
