"""When a failed delivery is tried again: exponential steps with jitter over about 16 hours."""

from __future__ import annotations

import random

#: Pauses after each failed attempt, in units of ``--webhook-retry-base`` (1 s by default,
#: :data:`~inferq.policy.DEFAULT_WEBHOOK_RETRY_BASE_S`): 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h; about 15.7 h in all, inside the
#: default retention of 24 h. Ten attempts, then the delivery fails.
RETRY_STEPS = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800)
#: Each pause is stretched or shrunk at random by up to this share, so that receivers
#: coming back from an outage are not hit by every retry at the same moment.
JITTER = 0.2


def next_attempt_at(attempts_made: int, base_s: float, now: float) -> float | None:
    """When to try again after ``attempts_made`` failed attempts; None once they ran out."""
    if attempts_made > len(RETRY_STEPS):
        return None
    pause = RETRY_STEPS[attempts_made - 1] * base_s
    return now + pause * random.uniform(1 - JITTER, 1 + JITTER)
