"""Webhook routes: the token's signing key, a request's delivery log and redelivery; and the
``webhook`` / ``webhook_events_filter`` query parameters of an asynchronous submit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.errors import InvalidInput
from inferq.gateway.responses import json_response
from inferq.webhooks.events import parse_events_filter
from inferq.webhooks.policy import check_url

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


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


async def get_secret(request: Request) -> Response:
    """``{"key": "whsec_..."}``: verifies the signatures of every webhook of this token's requests."""
    return json_response({"key": await request.app.state.backend.webhook_secret(request.user.id)})


async def list_deliveries(request: Request) -> Response:
    deliveries = await request.app.state.backend.webhook_log(
        request.user.id, request.path_params["response_id"]
    )
    return json_response({"results": [delivery.to_json() for delivery in deliveries]})


async def redeliver(request: Request) -> Response:
    """Queue the latest event again, as a new delivery with a new ``webhook-id``."""
    delivery = await request.app.state.backend.redeliver_webhook(
        request.user.id, request.path_params["response_id"]
    )
    return json_response(delivery.to_json(), 202)
