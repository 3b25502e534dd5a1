"""Webhook routes: the token's signing key, a request's delivery log and redelivery; and the
``webhook`` / ``webhook_events_filter`` query parameters of an asynchronous submit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.domain.clock import isoformat
from inferq.errors import InvalidInput
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.protocol.render import timestamp
from inferq.webhooks.events import parse_events_filter
from inferq.webhooks.policy import check_url

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.domain.webhooks import WebhookAttempt, WebhookDelivery
    from inferq.protocol.webhooks import Delivery, DeliveryAttempt, DeliveryLog, SigningKey


def submit_options(request: Request, asynchronous: bool) -> tuple[str | None, tuple[str, ...]]:
    """The webhook a submit asked for and its events; 422 naming the parameter that is wrong."""
    params = request.query_params
    url = params.get("webhook")
    events = params.getlist("webhook_events_filter")
    if url is None:
        if events:
            raise InvalidInput(
                "webhook_events_filter was given without a webhook", field="webhook_events_filter"
            )
        return None, ()
    if not asynchronous:
        raise InvalidInput(
            "webhook is for asynchronous calls only: add 'Prefer: respond-async' or 'X-OctoAI-Async: 1'",
            field="webhook",
        )
    return check_url(url), parse_events_filter(events)


def attempt_document(attempt: WebhookAttempt) -> DeliveryAttempt:
    return {
        "at": timestamp(attempt.at),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": round(attempt.duration_ms, 1),
    }


def delivery_document(delivery: WebhookDelivery) -> Delivery:
    """An entry of ``GET /v1/requests/{id}/webhooks``."""
    return {
        "webhook_id": delivery.webhook_id,
        "event": delivery.event,
        "url": delivery.url,
        "attempts": [attempt_document(attempt) for attempt in delivery.attempts],
        "state": delivery.state,
        "next_attempt_at": isoformat(delivery.next_attempt_at),
    }


async def get_secret(request: Request) -> Response:
    """``{"key": "whsec_..."}``: verifies the signatures of every webhook of this token's requests."""
    key: SigningKey = {"key": await state_of(request).backend.webhook_secret(request.user.id)}
    return json_response(key)


async def list_deliveries(request: Request) -> Response:
    deliveries = await state_of(request).backend.webhook_log(
        request.user.id, request.path_params["response_id"]
    )
    log: DeliveryLog = {"results": [delivery_document(delivery) for delivery in deliveries]}
    return json_response(log)


async def redeliver(request: Request) -> Response:
    """Queue the latest event again, as a new delivery with a new ``webhook-id``."""
    delivery = await state_of(request).backend.redeliver_webhook(
        request.user.id, request.path_params["response_id"]
    )
    return json_response(delivery_document(delivery), 202)
