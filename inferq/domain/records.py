"""What a request is, independent of where it is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from inferq.domain.lifecycle import AttemptOutcome
from inferq.domain.scheduling import DEFAULT_COST, DEFAULT_SECONDS_PER_COST, NORMAL
from inferq.domain.status import Status


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One run of a request: its worker, when it started and ended, and how
    (:data:`~inferq.domain.lifecycle.ATTEMPT_OUTCOMES`; None while it runs)."""

    worker: str
    started_at: float
    ended_at: float | None = None
    outcome: AttemptOutcome | None = None


def attempts_of(history: str | bytes | None) -> tuple[AttemptRecord, ...]:
    """The runs a store keeps as a JSON list of ``{worker, started_at, ended_at, outcome}``
    (times as numbers, or as strings where Lua wrote them)."""
    if not history:
        return ()
    runs: list[dict[str, Any]] = json.loads(history)
    return tuple(
        AttemptRecord(
            str(run["worker"]),
            float(run["started_at"]),
            None if run.get("ended_at") is None else float(run["ended_at"]),
            cast("AttemptOutcome | None", run.get("outcome")),
        )
        for run in runs
    )


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """The state of one request, as a backend returns it (inputs and outputs kept apart);
    :mod:`inferq.protocol.render` makes its status document."""

    response_id: str
    tenant: str
    endpoint: str
    status: Status
    created_at: float
    expires_at: float
    started_at: float | None = None
    completed_at: float | None = None
    attempts: int = 0
    error_type: str | None = None
    error: str | None = None
    queue_position: int | None = None
    #: The cost of the work the queue serves before it (pending only, with ``queue_position``).
    cost_ahead: float | None = None
    #: How far a running request has got, 0 to 1, when its model reports it.
    progress: float | None = None
    #: How many pieces of partial output its model's checkpoints have saved.
    partial_outputs: int = 0
    #: Where its webhook events go, and which events (``start``, ``completed``).
    webhook: str | None = None
    webhook_events: tuple[str, ...] = ()
    #: Its priority level among its token's requests (:data:`~inferq.domain.scheduling.PRIORITIES`).
    priority: int = NORMAL
    #: The endpoint's estimate of its work (:mod:`inferq.domain.scheduling`).
    cost: float = DEFAULT_COST
    #: When it is cancelled if it has not ended (``Cancel-After``), or None.
    deadline_at: float | None = None
    #: Seconds its data is kept after it ends, when it asked for its own retention.
    retention_s: float | None = None
    #: Each run so far, oldest first.
    history: tuple[AttemptRecord, ...] = ()
    #: The request this one re-runs (``POST .../retry``), and the latest that re-ran this one.
    retry_of: str | None = None
    retried_by: str | None = None
    #: The completed request whose output answered this one (``Prefer: reuse``).
    reused_from: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A worker's lease on one request: the inputs to run and the token that proves the lease."""

    record: RequestRecord
    inputs: bytes
    lease_id: str


@dataclass(frozen=True, slots=True)
class Submission:
    """One request to enqueue: the caller, the endpoint, the JSON body and its idempotency key."""

    tenant: str
    endpoint: str
    inputs: bytes
    idempotency_key: str | None = None
    webhook: str | None = None
    webhook_events: tuple[str, ...] = ()
    #: The hash a replay under the same key must match; None: that of ``inputs``.
    digest: str | None = None
    priority: int = NORMAL
    #: The endpoint's estimate of its work, and its measured seconds of run per unit of it.
    cost: float = DEFAULT_COST
    pace: float = DEFAULT_SECONDS_PER_COST
    #: Seconds its data is kept after it ends; None: the server's retention.
    retention_s: float | None = None
    #: Seconds after its submit by which it must have ended, else it is cancelled; None: no deadline.
    cancel_after_s: float | None = None
    #: The failed or cancelled request this one re-runs.
    retry_of: str | None = None
    #: Answer it from a completed request of its tenant with the same ``reuse_key``, if any.
    reuse: bool = False
    #: The hash of its endpoint, the endpoint's model version and its inputs: what makes two
    #: requests the same work.
    reuse_key: str | None = None
