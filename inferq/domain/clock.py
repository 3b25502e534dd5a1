"""The one clock every lease and retention decision reads, so tests can move it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def isoformat(timestamp: float | None) -> str | None:
    """RFC 3339 in UTC with milliseconds, as the API shows times."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
