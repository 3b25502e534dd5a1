"""Webhook deliveries as the store keeps them: independent of how they are sent or stored.

A request submitted with a webhook gets one *delivery* per event it asked for (``start``
when a worker first picks it up, ``completed`` when it ends in any terminal state). The
store creates the delivery in the same atomic step as the state change, so an event is
never lost to a crash; the gateways' deliverers then send it, at least once, with the same
``webhook-id`` on every attempt.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import Enum

#: Events a submit may ask for, in the API's spelling (``webhook_events_filter``).
EVENTS = ("start", "completed")
#: What a webhook without a filter is sent for.
DEFAULT_EVENTS = ("completed",)


class DeliveryState(str, Enum):
    PENDING = "pending"  #: not sent yet, or a retry is scheduled
    DELIVERED = "delivered"  #: the receiver answered 2xx
    FAILED = "failed"  #: retries ran out, or the address policy refused the receiver


def new_webhook_id() -> str:
    """A ``webhook-id`` as Standard Webhooks spells it; stable across retries of one delivery."""
    return f"msg_{secrets.token_hex(16)}"


def join_events(events: tuple[str, ...]) -> str:
    """The stored form of an events filter: ``"start,completed"``."""
    return ",".join(events)


def split_events(stored: str | None) -> tuple[str, ...]:
    return tuple(event for event in (stored or "").split(",") if event)


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One try at sending a delivery: the receiver's status, or why there was none."""

    at: float
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event of one request on its way to the request's webhook, with its attempts so far."""

    webhook_id: str
    event: str
    url: str
    state: DeliveryState
    next_attempt_at: float | None
    attempts: tuple[WebhookAttempt, ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookLease:
    """A deliverer's claim on a due delivery: no other process sends it until the lease ends."""

    webhook_id: str
    response_id: str
    tenant: str
    event: str
    url: str
    #: When the event happened: the payload's ``timestamp``.
    created_at: float
    #: Attempts made before this one.
    attempts_made: int
    lease_id: str
