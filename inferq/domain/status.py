"""Request statuses, spelled as the API spells them (the moves between them: :mod:`inferq.domain.lifecycle`)."""

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
