"""The scaling signal: how many workers an endpoint needs to drain its backlog within a
target wait (``--target-wait``), for an autoscaler that scales on queue depth, not CPU.

The backlog's work is the requests pending and running times the endpoint's mean run time
as the store measured it; the workers needed are that work over the target, rounded up.
An empty queue needs none (so an autoscaler may scale to zero), and a backlog with no run
measured yet needs one, to start measuring.
"""

from __future__ import annotations

import math

from inferq.backends.counters import Histogram


def workers_needed(pending: int, running: int, runs: Histogram, target_wait_s: float) -> int:
    """Workers that would finish the ``pending`` and ``running`` requests within ``target_wait_s``."""
    backlog = pending + running
    if backlog == 0:
        return 0
    if runs.mean is None:
        return 1
    return max(1, math.ceil(backlog * runs.mean / target_wait_s))
