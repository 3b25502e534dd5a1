"""The operations of the OpenAPI document, route by route, with their answers as wire types.

Every document's schema comes from :mod:`inferq.protocol` (``ref(Type)``) and every bound
from its limits, so no document's shape is restated here: what is written here is which
route takes and answers what.
"""

from __future__ import annotations

from typing import Any

from inferq.domain.scheduling import DEFAULT_PRIORITY, PRIORITIES
from inferq.domain.status import Status
from inferq.protocol import options
from inferq.protocol.endpoints import Alive, EndpointList
from inferq.protocol.errors import ErrorBody
from inferq.protocol.limits import MAX_IDEMPOTENCY_KEY, MAX_LONG_POLL_S, MAX_PAGE, MAX_PARTIAL_START
from inferq.protocol.requests import (
    Deleted,
    PartialOutput,
    RequestPage,
    RequestStatus,
    RetriedPage,
    RetryRequest,
)
from inferq.protocol.schema import ref
from inferq.protocol.streams import OUTPUT, REQUEST_EVENTS, WAIT_EVENTS, WaitRequest
from inferq.protocol.tokens import CreatedToken, NewToken, Token, TokenList
from inferq.protocol.webhooks import Delivery, DeliveryLog, SigningKey, WebhookEvent

#: Errors every route that reads a JSON body may answer.
BODY_ERRORS = (400, 413, 415, 422)

_ID = [{"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}]
KEY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
    "description": "Same key and body → same future; another body → 409.",
}
#: The scheduling options every submit route reads (:mod:`inferq.gateway.request_options`).
SCHEDULING_HEADERS = [
    {
        "name": options.PRIORITY,
        "in": "header",
        "schema": {"type": "string", "enum": list(PRIORITIES), "default": DEFAULT_PRIORITY},
        "description": "Order among your own requests: high before normal before low; urgent (admin "
        "tokens only, 403 otherwise) before every token's share.",
    },
    {
        "name": options.CANCEL_AFTER,
        "in": "header",
        "schema": {"type": "string", "examples": ["10m", "90s", "30"]},
        "description": "Cancel the request (error `deadline_exceeded`) if it has not ended this long after "
        "submit; 429 `deadline_unmeetable` at once when the queue's estimate says it could not start in time.",
    },
    {
        "name": options.RETENTION,
        "in": "header",
        "schema": {"type": "string", "examples": ["1h", "7d"]},
        "description": "Keep this request's inputs and outputs this long after it ends, up to the "
        "server's --max-retention.",
    },
    {
        "name": options.PREFER,
        "in": "header",
        "schema": {"type": "string", "examples": ["respond-async", f"respond-async, {options.REUSE}"]},
        "description": "`respond-async` = X-OctoAI-Async (routes that answer synchronously otherwise); "
        f"`{options.REUSE}`: answer at once from a completed request of yours with the same endpoint, "
        "model version and inputs, while it is kept (the new request's `reused_from` names it).",
    },
]
#: What a retry reads from the scheduling headers (a deadline of its own; its original's
#: priority and retention where it gives none).
RETRY_HEADERS = [header for header in SCHEDULING_HEADERS if header["name"] != options.PREFER]
ASYNC_HEADERS = [
    {
        "name": "X-OctoAI-Async",
        "in": "header",
        "schema": {"type": "string", "enum": ["1", "true"]},
        "description": "Queue the request and answer 202 with a future.",
    },
]


def json_answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation(
    summary: str, ok: dict[str, Any], *errors: int, public: bool = False, **fields: Any
) -> dict[str, Any]:
    """An operation answering ``ok`` (status → answer) or one of ``errors``; every route
    but the public ones may also answer 401."""
    codes = sorted({*errors, *(() if public else (401,))})
    answers = {str(code): json_answer(ref(ErrorBody), "error") for code in codes}
    extra: dict[str, Any] = {"security": []} if public else {}
    return {"summary": summary, **fields, "responses": {**ok, **answers}, **extra}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def event_stream(events: dict[str, dict[str, Any]], description: str) -> dict[str, Any]:
    """A server-sent event stream: each event's name, and the JSON document its ``data`` holds."""
    one_of = [
        {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"const": name},
                "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": schema},
                "id": {"type": "string"},
            },
        }
        for name, schema in events.items()
    ]
    return {"description": description, "content": {"text/event-stream": {"schema": {"oneOf": one_of}}}}


def request_paths() -> dict[str, Any]:
    wait = {
        "name": "wait",
        "in": "query",
        "schema": {"type": "number", "minimum": 0, "maximum": MAX_LONG_POLL_S},
    }
    page = [
        {"name": "status", "in": "query", "schema": ref(Status)},
        {"name": "endpoint", "in": "query", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
        {"name": "before", "in": "query", "schema": {"type": "string"}},
        {
            "name": "tenant",
            "in": "query",
            "schema": {"type": "string", "minLength": 1},
            "description": "Admin tokens only (403 otherwise): the requests of this token id alone.",
        },
    ]
    status = json_answer(ref(RequestStatus), "state")
    changes = {name: ref(PartialOutput if name == OUTPUT else RequestStatus) for name in REQUEST_EVENTS}
    ends = {name: ref(kind) for name, kind in WAIT_EVENTS.items()}
    return {
        "/v1/requests": {
            "get": operation(
                "Your requests, newest first (every tenant's for an admin token)",
                {"200": json_answer(ref(RequestPage), "a page")},
                403,
                422,
                parameters=page,
            )
        },
        "/v1/requests/{response_id}": {
            "get": operation(
                f"A future's state; ?wait=S long-polls (up to {MAX_LONG_POLL_S:g} s)",
                {"200": status},
                404,
                422,
                parameters=[*_ID, wait],
            ),
            "delete": operation(
                "Delete a finished request's inputs and outputs now (cancel a live one first)",
                {"200": json_answer(ref(Deleted), "deleted: it now reads as 404")},
                404,
                409,
                parameters=_ID,
            ),
        },
        "/v1/requests/{response_id}/response": {
            "get": operation(
                "The outputs, or another rendering of them its endpoint offers (whisper: txt, srt, vtt, verbose_json)",
                {
                    "200": {
                        **json_answer({"type": "object"}, "outputs"),
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "*/*": {"schema": {"type": "string"}},
                        },
                    }
                },
                404,
                409,
                422,
                502,
                parameters=[
                    *_ID,
                    {"name": "format", "in": "query", "schema": {"type": "string", "default": "json"}},
                ],
            )
        },
        "/v1/requests/{response_id}/partial": {
            "get": operation(
                "The pieces of output its model's checkpoints saved so far (a transcript's segments), "
                "from ?start= on",
                {"200": json_answer(ref(PartialOutput), "pieces of output")},
                404,
                422,
                parameters=[
                    *_ID,
                    {
                        "name": "start",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_PARTIAL_START,
                            "default": 0,
                        },
                    },
                ],
            )
        },
        "/v1/requests/{response_id}/retry": {
            "post": operation(
                "Re-run a failed or cancelled request with its stored inputs, as a new request that "
                "names it (retry_of); it keeps its webhook, priority and retention unless headers say otherwise",
                {"202": {**status, "description": "the new request, queued"}},
                403,
                404,
                409,
                422,
                429,
                parameters=[*_ID, KEY_HEADER, *RETRY_HEADERS],
            )
        },
        "/v1/requests/retry": {
            "post": operation(
                "Re-run many failed or cancelled requests: by response_ids, or by a filter (status, "
                "endpoint, since; requests already retried left out); each result is the new request "
                "or why that one was not retried",
                {"200": json_answer(ref(RetriedPage), "what became of each")},
                *BODY_ERRORS,
                403,
                429,
                parameters=RETRY_HEADERS,
                requestBody=json_body(ref(RetryRequest)),
            )
        },
        "/v1/requests/{response_id}/cancel": {
            "post": operation(
                "Cancel a pending or running request: running work stops (within --cancel-grace)",
                {"200": {**status, "description": "cancelled"}},
                404,
                409,
                parameters=_ID,
            )
        },
        "/v1/requests/wait": {
            "post": operation(
                "The ends of many requests as server-sent events: done (a status) or missing (an error) "
                "for each as it ends, then end with the ids still going",
                {"200": event_stream(ends, "an event stream")},
                *BODY_ERRORS,
                requestBody=json_body(ref(WaitRequest)),
            )
        },
        "/v1/requests/{response_id}/events": {
            "get": operation(
                "Its changes as server-sent events until it ends: queued, running, progress, output "
                "(new pieces of partial output), then its terminal status; each data is its state",
                {"200": event_stream(changes, "an event stream")},
                404,
                parameters=_ID,
            )
        },
    }


def webhook_paths() -> dict[str, Any]:
    """The webhook routes. The ``webhook`` query parameter of ``predict`` (see
    docs/webhooks.md) is left out of the document on purpose: a fuzzer would make the
    gateway POST to whatever addresses it makes up."""
    return {
        "/v1/webhooks/secret": {
            "get": operation(
                "This token's key for verifying webhook signatures",
                {"200": json_answer(ref(SigningKey), "the key")},
            )
        },
        "/v1/requests/{response_id}/webhooks": {
            "get": operation(
                "The request's webhook deliveries and attempts",
                {"200": json_answer(ref(DeliveryLog), "the delivery log")},
                404,
                parameters=_ID,
            )
        },
        "/v1/requests/{response_id}/webhooks/redeliver": {
            "post": operation(
                "Send the latest webhook event again, with a new webhook-id",
                {"202": json_answer(ref(Delivery), "queued")},
                404,
                409,
                parameters=_ID,
            )
        },
    }


def webhook_events(types: list[str]) -> dict[str, Any]:
    """What a webhook receives: OpenAPI's ``webhooks``, one per event type."""
    event = {
        "post": {
            "summary": "A request's event, signed per Standard Webhooks (see docs/webhooks.md)",
            "requestBody": json_body(ref(WebhookEvent)),
            "responses": {"2XX": {"description": "received; anything else is retried"}},
        }
    }
    return {kind: event for kind in types}


def service_paths() -> dict[str, Any]:
    text = {
        "description": "Prometheus text format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return {
        "/healthz": {
            "get": operation("Is the gateway up?", {"200": json_answer(ref(Alive), "up")}, public=True)
        },
        "/v1/endpoints": {
            "get": operation(
                "Each endpoint with its workers and queue",
                {"200": json_answer(ref(EndpointList), "the endpoints")},
                503,
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics (see docs/metrics.md); admin tokens only", {"200": text}, 403
            )
        },
        "/openapi.json": {
            "get": operation("This document", {"200": json_answer({"type": "object"}, "OpenAPI 3.1")})
        },
        "/docs": {
            "get": operation(
                "Every endpoint's inputs and example, as a page",
                {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            )
        },
    }


def token_paths() -> dict[str, Any]:
    """``/v1/tokens``: admin tokens only, so every operation may answer 403."""
    token_id = [{"name": "token_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/v1/tokens": {
            "get": operation(
                "Every token, revoked ones included (never a secret)",
                {"200": json_answer(ref(TokenList), "the tokens")},
                403,
            ),
            "post": operation(
                "Create a token; the answer is the only time it is shown",
                {"201": json_answer(ref(CreatedToken), "created")},
                *BODY_ERRORS,
                403,
                requestBody=json_body(ref(NewToken)),
            ),
        },
        "/v1/tokens/{token_id}": {
            "delete": operation(
                "Revoke a token: its next call is 401 (idempotent)",
                {"200": json_answer(ref(Token), "revoked")},
                403,
                404,
                parameters=token_id,
            )
        },
    }
