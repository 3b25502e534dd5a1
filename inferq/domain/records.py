"""What a request is, independent of where it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferq.domain.clock import isoformat
from inferq.domain.status import Status


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """The state of one request, as a backend returns it (inputs and outputs kept apart)."""

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
    #: How far a running request has got, 0 to 1, when its model reports it.
    progress: float | None = None
    #: Where its webhook events go, and which events (``start``, ``completed``).
    webhook: str | None = None
    webhook_events: tuple[str, ...] = ()

    def to_status(self, response_url: str | None) -> dict[str, Any]:
        """The status document of ``GET /v1/requests/{id}``."""
        doc: dict[str, Any] = {
            "response_id": self.response_id,
            "endpoint": self.endpoint,
            "status": self.status.value,
            "created_at": isoformat(self.created_at),
            "started_at": isoformat(self.started_at),
            "completed_at": isoformat(self.completed_at),
            "expires_at": isoformat(self.expires_at),
            "attempts": self.attempts,
        }
        if self.status is Status.COMPLETED:
            doc["response_url"] = response_url
        if self.status is Status.FAILED:
            doc["error"] = {"type": self.error_type, "message": self.error}
        if self.status is Status.PENDING:
            doc["queue_position"] = self.queue_position
        if self.status is Status.RUNNING:
            doc["progress"] = self.progress
        if self.webhook is not None:
            doc["webhook"] = self.webhook
        return doc


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
