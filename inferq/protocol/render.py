"""A request's documents, built from its record: the one place a record becomes wire.

For the gateway's answers and the webhook deliverer's events. Plain dict literals typed
as the wire types (mypy checks them against the schema's source); nothing is validated at
run time, since these are built on every submit and poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.domain.clock import isoformat
from inferq.domain.scheduling import priority_name
from inferq.domain.status import Status

if TYPE_CHECKING:
    from inferq.domain.records import AttemptRecord, RequestRecord
    from inferq.protocol.requests import Accepted, Attempt, RequestStatus


def request_status(record: RequestRecord, response_url: str) -> RequestStatus:
    """The status document of ``record``; ``response_url`` is shown once it completed."""
    doc: RequestStatus = {
        "response_id": record.response_id,
        "endpoint": record.endpoint,
        "status": record.status,
        "created_at": timestamp(record.created_at),
        "started_at": isoformat(record.started_at),
        "completed_at": isoformat(record.completed_at),
        "expires_at": timestamp(record.expires_at),
        "attempts": record.attempts,
        "attempt_history": [_attempt(n, run) for n, run in enumerate(record.history, 1)],
        "priority": priority_name(record.priority),
        "cost": record.cost,
        "deadline_at": isoformat(record.deadline_at),
    }
    status = record.status
    if status is Status.PENDING:
        doc["queue_position"] = record.queue_position
    elif status is Status.RUNNING:
        doc["progress"] = record.progress
    elif status is Status.COMPLETED:
        doc["response_url"] = response_url
    if record.error_type is not None:  # failed, or cancelled by its deadline
        doc["error"] = {"type": record.error_type, "message": record.error}
    if record.partial_outputs:
        doc["partial_outputs"] = record.partial_outputs
    if record.webhook is not None:
        doc["webhook"] = record.webhook
    if record.retry_of is not None:
        doc["retry_of"] = record.retry_of
    if record.retried_by is not None:
        doc["retried_by"] = record.retried_by
    if record.reused_from is not None:
        doc["reused_from"] = record.reused_from
    return doc


def _attempt(number: int, run: AttemptRecord) -> Attempt:
    return {
        "attempt": number,
        "worker": run.worker,
        "started_at": timestamp(run.started_at),
        "ended_at": isoformat(run.ended_at),
        "outcome": run.outcome,
    }


def accepted(record: RequestRecord, poll_url: str) -> Accepted:
    """The 202 answer of a queued request: its future."""
    doc: Accepted = {
        "response_id": record.response_id,
        "poll_url": poll_url,
        "status": record.status,
        "created_at": timestamp(record.created_at),
        "expires_at": timestamp(record.expires_at),
    }
    if record.webhook is not None:
        doc["webhook"] = record.webhook
    return doc


def timestamp(at: float) -> str:
    """A time that is always set, as the API shows times."""
    moment = isoformat(at)
    assert moment is not None
    return moment
