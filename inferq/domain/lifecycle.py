"""The life of a request, stated once: its moves and what each emits (the order the queue
serves pending requests in: :mod:`inferq.domain.scheduling`).

A request is submitted ``pending``. A worker's claim makes it ``running`` and counts an
attempt. It ends ``completed`` or ``failed`` by its worker, or ``cancelled`` by its owner or by its
deadline (``Cancel-After``). A pending request that asked to reuse a result and whose inputs
match a completed request of its token is completed from it at once (``reuse``), never run.
A running request whose worker is lost (no heartbeat within the lease, or its supervisor
saw it die) goes back to ``pending``, ahead of every request not yet run, until it has had
``max_attempts`` in a row without a checkpoint; then it gives up, failing with a message
that says why. A *checkpoint* (the model's saved state with its partial output) is no move:
it records that the current attempt made progress, so a long request that keeps being
resumed is not given up on while each attempt gets further than the last.

Each move that ends an attempt names how it ended (:data:`ATTEMPT_OUTCOMES`): the
request's attempt history keeps, for each run, its worker, start, end and that outcome.

Each move names what it emits. Its webhook ``event`` queues a delivery when the request's
events filter asks for it (``start`` only on a first attempt: a rerun is not a new start).
A move to a terminal status *ends* the request: the endpoint's counters
(:mod:`inferq.backends.counters`) count it once, and its retention clock starts
(:func:`expires_at`; a request's own retention, when it asked for one, else the server's).
Deleting a request deletes its inputs, outputs and deliveries.

The stores carry these rules out atomically in their own languages, and both generate
that code from this module (the SQLite triggers and statements, the Redis Lua tables), so
neither restates a rule.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Literal, get_args

from inferq.domain.status import ACTIVE, Status


@dataclass(frozen=True, slots=True)
class Move:
    """One transition of a request's status and what it emits."""

    name: str
    before: frozenset[Status]
    after: Status
    #: The webhook event this move emits, if the request asked for it.
    event: str | None = None
    #: Emit ``event`` only when this is the request's first attempt.
    first_attempt_only: bool = False
    #: How the running attempt ended, for a move out of ``running``.
    attempt_outcome: AttemptOutcome | None = None

    @property
    def ends(self) -> bool:
        """A move to a terminal status: counted once, and retention starts."""
        return self.after.is_terminal


PENDING, RUNNING = frozenset({Status.PENDING}), frozenset({Status.RUNNING})

#: How an attempt ended: its model returned, raised, outran ``--timeout``; its worker was
#: lost; or the request was cancelled (by its owner or its deadline).
AttemptOutcome = Literal["completed", "raised", "timed_out", "worker_lost", "cancelled"]
ATTEMPT_OUTCOMES: tuple[AttemptOutcome, ...] = get_args(AttemptOutcome)
COMPLETED, RAISED, TIMED_OUT, WORKER_LOST, CANCELLED = ATTEMPT_OUTCOMES

SUBMIT = Move("submit", frozenset(), Status.PENDING)
CLAIM = Move("claim", PENDING, Status.RUNNING, event="start", first_attempt_only=True)
COMPLETE = Move("complete", RUNNING, Status.COMPLETED, event="completed", attempt_outcome=COMPLETED)
FAIL = Move("fail", RUNNING, Status.FAILED, event="completed", attempt_outcome=RAISED)
#: A run stopped by the worker's ``--timeout`` fails with :data:`TIMEOUT_ERROR_TYPE`.
TIME_OUT = Move("time_out", RUNNING, Status.FAILED, event="completed", attempt_outcome=TIMED_OUT)
CANCEL = Move("cancel", ACTIVE, Status.CANCELLED, event="completed", attempt_outcome=CANCELLED)
#: A request not ended by its deadline is cancelled, with :data:`DEADLINE_ERROR`.
MISS_DEADLINE = Move("miss_deadline", ACTIVE, Status.CANCELLED, event="completed", attempt_outcome=CANCELLED)
#: A lost worker's request with attempts left goes back to the queue.
REQUEUE = Move("requeue", RUNNING, Status.PENDING, attempt_outcome=WORKER_LOST)
#: A lost worker's request that has had ``max_attempts`` fails.
GIVE_UP = Move("give_up", RUNNING, Status.FAILED, event="completed", attempt_outcome=WORKER_LOST)
#: A pending request answered from a completed twin's output (``Prefer: reuse``).
REUSE = Move("reuse", PENDING, Status.COMPLETED, event="completed")

MOVES = (SUBMIT, CLAIM, COMPLETE, FAIL, TIME_OUT, CANCEL, MISS_DEADLINE, REQUEUE, GIVE_UP, REUSE)

#: A request that ended so may be re-run as a new one with its stored inputs (``/retry``).
RETRYABLE = frozenset({Status.FAILED, Status.CANCELLED})

#: Every legal transition, derived from the moves.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    status: frozenset(move.after for move in MOVES if status in move.before) for status in Status
}

#: The condition under which a lost worker's request gives up instead of running again,
#: over the request's ``attempts``, the attempt that saved its last checkpoint
#: (``progressed``, 0 for none) and the policy's ``max_attempts``.
GIVES_UP = "{attempts} - {progressed} >= {max_attempts}"
#: The error type and messages a request that gave up ends with.
GIVE_UP_ERROR_TYPE = "inference_failed"
LEASE_LOST_ERROR = "its worker was lost {attempts} times (no heartbeat within the lease); giving up"
WORKER_DIED_ERROR = "{reason}; giving up after {attempts} attempts"
#: The error type of a run its worker's ``--timeout`` stopped (:data:`TIME_OUT`).
TIMEOUT_ERROR_TYPE = "timeout"
#: The error a request its deadline cancelled ends with.
DEADLINE_ERROR_TYPE = "deadline_exceeded"
DEADLINE_ERROR = "not finished by its deadline (Cancel-After); cancelled"


def expires_at(moment: float, retention_s: float) -> float:
    """When a request's data is deleted: ``retention_s`` after it ended (after it was
    created, while it has not ended)."""
    return moment + retention_s


def template_fields(template: str) -> list[tuple[str, str | None]]:
    """``template`` as ``(literal, field)`` pairs, for a store to render it in its own
    language (SQL ``||``, Lua ``..``) with its own expressions for the fields."""
    return [(literal, field) for literal, field, _, _ in string.Formatter().parse(template)]
