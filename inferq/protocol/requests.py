"""The documents of a request's life: its status, the 202 that queues it, pages of them."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict  # pydantic reads typing's only from Python 3.12

from inferq.domain.lifecycle import AttemptOutcome
from inferq.domain.scheduling import Priority
from inferq.domain.status import TERMINAL, Status
from inferq.protocol.errors import ErrorDetail
from inferq.protocol.limits import MAX_RETRY_IDS
from inferq.protocol.schema import closed, documented

#: Every status, in the API's spelling and the order of a request's life.
STATUSES: tuple[str, ...] = tuple(status.value for status in Status)
#: Statuses after which a request never changes again.
TERMINAL_STATUSES: frozenset[str] = frozenset(status.value for status in TERMINAL)

#: A time as the API shows it: RFC 3339 in UTC, with milliseconds.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


@documented
class RequestError(TypedDict):
    """Why a request failed: the error's type (``inference_failed``, ``invalid_input``,
    ``deadline_exceeded`` for one its deadline cancelled)
    and its message (left out for an admin reading another tenant's request)."""

    type: str | None
    message: NotRequired[str | None]


@documented
class Attempt(TypedDict):
    """One run of a request: which worker, when it started and ended, and how it ended
    (``completed``, ``raised``, ``timed_out``, ``worker_lost`` or ``cancelled``; null while
    it runs)."""

    attempt: int
    worker: str
    started_at: Timestamp
    ended_at: Timestamp | None
    outcome: AttemptOutcome | None


@documented
class RequestStatus(TypedDict):
    """The state of one request (``GET /v1/requests/{response_id}``): the fields each status
    adds are there only in that status."""

    response_id: str
    endpoint: str
    status: Status
    created_at: Timestamp
    started_at: Timestamp | None
    """When its last run started."""
    completed_at: Timestamp | None
    """When it ended."""
    expires_at: Timestamp
    """When its inputs and outputs are deleted: retention after it ended (after it was
    created while it has not)."""
    attempts: int
    """Runs started so far (a worker lost mid-run makes another)."""
    attempt_history: list[Attempt]
    """Each run so far, oldest first."""
    priority: Priority
    """Its place among its token's own requests (``Inferq-Priority``)."""
    cost: float
    """The endpoint's estimate of its work at submit (Whisper: seconds of audio; 1 where
    the endpoint makes none): the queue shares an endpoint's time across tokens by it."""
    deadline_at: Timestamp | None
    """When it is cancelled (error ``deadline_exceeded``) if it has not ended (``Cancel-After``)."""
    queue_position: NotRequired[int | None]
    """Pending: requests ahead of it, in fair order."""
    progress: NotRequired[Annotated[float, Field(ge=0, le=1)] | None]
    """Running: how far its model says it has got, when it says."""
    partial_outputs: NotRequired[int]
    """Pieces of output its model's checkpoints saved so far (a transcript's segments), when
    it saves any: ``/partial`` has them while it runs, and after."""
    estimated_start_at: NotRequired[Timestamp | None]
    """Pending: when it should start, from measured run times (null until measured)."""
    estimated_completed_at: NotRequired[Timestamp | None]
    """Pending or running: when it should end (null until measured)."""
    response_url: NotRequired[str]
    """Completed: where its outputs are."""
    error: NotRequired[RequestError]
    """Failed, or cancelled by its deadline: why."""
    webhook: NotRequired[str]
    """Where its webhook events go, when it was submitted with one (its owner only)."""
    tenant: NotRequired[str]
    """The token id that owns it, shown to admin tokens only."""
    retry_of: NotRequired[str]
    """The failed or cancelled request this one re-runs (``POST /v1/requests/{id}/retry``)."""
    retried_by: NotRequired[str]
    """The latest request that re-ran this one."""
    reused_from: NotRequired[str]
    """The completed request whose output answered this one at once (``Prefer: reuse``)."""


@documented
class StatusWithOutput(RequestStatus):
    """A status document that may carry the request's outputs (a wait's ``done`` event, a
    webhook's ``completed`` event)."""

    output: NotRequired[Any]
    """The outputs of a completed request, as ``/response`` answers them."""


@documented
class PartialOutput(TypedDict):
    """Pieces of a request's output, saved by its model's checkpoints as it goes (a
    transcript's segments), in order (``GET /v1/requests/{response_id}/partial``, and the
    ``output`` events of its stream). They are kept and deleted with the request."""

    response_id: str
    status: Status
    start: int
    """The index of the first piece of ``outputs`` among all the request's pieces."""
    outputs: list[Any]


@documented
class Accepted(TypedDict):
    """A queued request's future: what a 202 answers (and ``Location`` is its ``poll_url``)."""

    response_id: str
    poll_url: str
    """Its status document (long-poll with ``?wait=``)."""
    status: Status
    created_at: Timestamp
    expires_at: Timestamp
    webhook: NotRequired[str]


@documented
class AcceptedBatch(TypedDict):
    """The futures of a batch, in the order of its inputs."""

    results: list[Accepted]


@documented
class RequestPage(TypedDict):
    """A page of requests, newest first; ``next`` is the URL of the following page, or null."""

    results: list[RequestStatus]
    next: str | None


@documented
class Deleted(TypedDict):
    """A request deleted before its retention ended: it reads as 404 from now on."""

    response_id: str
    deleted: bool


@closed
class RetryRequest(TypedDict):
    """The body of ``POST /v1/requests/retry``: your requests to re-run, by ``response_ids``
    or by a filter (``status``, ``endpoint``, ``since``; every failed or cancelled one when
    none is given). A filter leaves out requests already retried."""

    response_ids: NotRequired[Annotated[list[str], Field(min_length=1, max_length=MAX_RETRY_IDS)]]
    status: NotRequired[Literal["failed", "cancelled"]]
    """Only requests that ended so (default: both)."""
    endpoint: NotRequired[str]
    since: NotRequired[Timestamp]
    """Only requests created at or after this time."""
    limit: NotRequired[Annotated[int, Field(ge=1, le=MAX_RETRY_IDS)]]
    """The most requests a filter retries, newest first (default and most: the maximum of ``response_ids``)."""


@documented
class Retried(TypedDict):
    """One request of a bulk retry: the new request's status, or why it could not be retried."""

    retry_of: str
    request: NotRequired[RequestStatus]
    error: NotRequired[ErrorDetail]


@documented
class RetriedPage(TypedDict):
    """What a bulk retry did, in the order of its ``response_ids`` (newest first for a filter)."""

    results: list[Retried]
