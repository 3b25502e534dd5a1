"""The documents of webhooks: a request's delivery log, the signing key, and the event each
delivery POSTs to the webhook (see docs/webhooks.md)."""

from __future__ import annotations

from typing_extensions import TypedDict

from inferq.domain.webhooks import DeliveryState
from inferq.protocol.requests import StatusWithOutput
from inferq.protocol.schema import documented

#: The payload's ``type`` for each event a submit may ask for (``webhook_events_filter``).
EVENT_TYPES = {"start": "request.started", "completed": "request.completed"}


@documented
class DeliveryAttempt(TypedDict):
    """One try at sending a delivery: the receiver's status code, or why there was none."""

    at: str
    status_code: int | None
    error: str | None
    duration_ms: float


@documented
class Delivery(TypedDict):
    """One event of a request on its way to the request's webhook."""

    webhook_id: str
    """The ``webhook-id`` header: the same on every attempt of this delivery."""
    event: str
    """``start`` or ``completed``."""
    url: str
    attempts: list[DeliveryAttempt]
    state: DeliveryState
    next_attempt_at: str | None


@documented
class DeliveryLog(TypedDict):
    """A request's deliveries, oldest first."""

    results: list[Delivery]


@documented
class SigningKey(TypedDict):
    """The key that verifies the signatures of this token's webhooks: ``whsec_`` + base64 of 32 bytes."""

    key: str


@documented
class WebhookEvent(TypedDict):
    """The body each webhook delivery POSTs, signed per Standard Webhooks."""

    type: str
    """``request.started`` or ``request.completed``."""
    timestamp: str
    """When the event happened."""
    data: StatusWithOutput
    """The request's status document as it was then, with its ``output`` in the
    ``completed`` event of a request that completed."""
