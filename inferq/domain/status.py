"""Request statuses, spelled as the API spells them, and the legal moves between them."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    PENDING = "pending"  #: accepted and durable, waiting for a worker
    RUNNING = "running"  #: a worker holds its lease
    COMPLETED = "completed"  #: outputs stored
    FAILED = "failed"  #: ended with an error; no outputs
    CANCELLED = "cancelled"  #: cancelled by its owner before it ended

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
ACTIVE = frozenset({Status.PENDING, Status.RUNNING})

#: Every legal transition. RUNNING → PENDING is a lost lease going back to the queue.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RUNNING, Status.FAILED, Status.CANCELLED}),
    Status.RUNNING: frozenset({Status.PENDING, *TERMINAL}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}
