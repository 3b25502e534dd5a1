"""Endpoint routes: ``/{endpoint}/predict`` (sync or async) and ``/{endpoint}/healthcheck``.

A synchronous call is a submit plus a wait on the same queue, so both paths share its
durability, ordering and limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from inferq.domain.clock import isoformat
from inferq.domain.records import Submission
from inferq.domain.status import Status
from inferq.errors import (
    APIError,
    Conflict,
    GatewayTimeout,
    InferenceFailed,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from inferq.gateway import webhooks
from inferq.gateway.body import read_json_object
from inferq.gateway.responses import json_response
from inferq.gateway.urls import poll_url
from inferq.service.schema import validate_inputs

if TYPE_CHECKING:
    from starlette.requests import Request

    from inferq.domain.records import RequestRecord
    from inferq.gateway.app import Endpoint

MAX_IDEMPOTENCY_KEY = 256


def wants_async(request: Request) -> bool:
    """``X-OctoAI-Async: 1`` (OctoAI's header) or ``Prefer: respond-async`` (RFC 7240)."""
    if request.headers.get("x-octoai-async", "").strip() in ("1", "true"):
        return True
    prefer = request.headers.get("prefer", "")
    return any(part.strip().lower() == "respond-async" for part in prefer.split(","))


def endpoint_of(request: Request) -> Endpoint:
    name = request.path_params["endpoint"]
    endpoint: Endpoint | None = request.app.state.endpoints.get(name)
    if endpoint is None:
        raise NotFound(f"no endpoint {name!r}", endpoint=name)
    return endpoint


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters", field="Idempotency-Key"
        )
    return key


async def predict(request: Request) -> Response:
    endpoint = endpoint_of(request)
    admission = request.app.state.admission
    admission.check_rate(request.user.id)
    webhook, events = webhooks.submit_options(request, wants_async(request))
    raw, inputs = await read_json_object(request, request.app.state.settings.max_body_bytes)
    validate_inputs(endpoint.inputs, inputs)
    await admission.check_queues(request.app.state.backend, endpoint.name, request.user.id)
    submission = Submission(request.user.id, endpoint.name, raw, idempotency_key(request), webhook, events)
    record, created = await request.app.state.backend.enqueue(submission)
    if created:
        request.app.state.metrics.submitted.labels(endpoint.name).inc()
    if wants_async(request):
        return accepted(request, record)
    return await _answer_when_done(request, record)


def accepted(request: Request, record: RequestRecord) -> Response:
    body = accepted_body(request, record)
    return json_response(body, 202, {"Location": body["poll_url"]})


def accepted_body(request: Request, record: RequestRecord) -> dict[str, Any]:
    """The future of a queued request, as a 202 answers it."""
    return {
        "response_id": record.response_id,
        "poll_url": poll_url(request, record.response_id),
        "status": record.status.value,
        "created_at": isoformat(record.created_at),
        "expires_at": isoformat(record.expires_at),
        **({"webhook": record.webhook} if record.webhook is not None else {}),
    }


async def _answer_when_done(request: Request, record: RequestRecord) -> Response:
    state = request.app.state
    record = await state.backend.wait(record.tenant, record.response_id, state.settings.sync_timeout_s)
    if record.status is Status.COMPLETED:
        output = await state.backend.get_output(record.tenant, record.response_id)
        return Response(output, 200, media_type="application/json")
    if not record.status.is_terminal:
        raise GatewayTimeout(
            f"no result within {state.settings.sync_timeout_s:g} s; the request goes on: poll its future",
            response_id=record.response_id,
            poll_url=poll_url(request, record.response_id),
        )
    raise failure(record)


def failure(record: RequestRecord) -> APIError:
    """The error a failed or cancelled request answers with, typed as the worker recorded it."""
    if record.status is Status.CANCELLED:
        return Conflict(f"request {record.response_id} was cancelled", status="cancelled")
    kind = InvalidInput if record.error_type == InvalidInput.type else InferenceFailed
    return kind(record.error or "inference failed", response_id=record.response_id)


async def healthcheck(request: Request) -> Response:
    endpoint = endpoint_of(request)
    backend = request.app.state.backend
    if await backend.endpoint_ready(endpoint.name):
        return json_response({"status": "ready", "endpoint": endpoint.name})
    setup_error = await backend.setup_error(endpoint.name)
    if setup_error is not None:
        raise ServiceUnavailable(
            f"endpoint {endpoint.name!r} has no worker with its model loaded: its last setup failed: "
            f"{setup_error}",
            retry_after=1,
            setup_error=setup_error,
        )
    raise ServiceUnavailable(
        f"endpoint {endpoint.name!r} has no worker with its model loaded yet", retry_after=1
    )
