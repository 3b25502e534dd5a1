"""Re-running failed and cancelled requests with their stored inputs: ``POST
/v1/requests/{response_id}/retry`` for one, ``POST /v1/requests/retry`` for many (by id, or
by a filter).

A retry is a new request (a new ``response_id``) submitted by the submit use-case like any
other: the caller's rate and queue limits, the inputs' files still kept, its cost and its
deadline all apply. It names the request it re-runs (``retry_of``), which then names its
latest retry (``retried_by``). It keeps the original's webhook, priority and retention
unless the retry's headers (``Inferq-Priority``, ``Inferq-Retention``) say otherwise; a
deadline (``Cancel-After``) is the retry's own, never the original's, which has passed.
Files that came as parts of the original's body are the original's: the retry uses them
while the original is kept (deleting it deletes them).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
import pydantic

from inferq.domain.status import Status
from inferq.errors import APIError, InvalidInput
from inferq.gateway.admin import tenant_of
from inferq.gateway.bodies import JSON, Body, decode_body
from inferq.gateway.doors import idempotency_key, scheduling
from inferq.gateway.request_options import Scheduling
from inferq.gateway.requests import status_doc
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.gateway.submit import Submit, SubmitOptions
from inferq.gateway.urls import poll_url
from inferq.protocol.limits import MAX_PAGE, MAX_RETRY_IDS
from inferq.protocol.requests import RetryRequest
from inferq.service.schema import invalid_input

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.domain.records import RequestRecord
    from inferq.protocol.requests import Retried, RetriedPage

_RETRY_REQUEST = pydantic.TypeAdapter(RetryRequest)
_MOMENT = pydantic.TypeAdapter(pydantic.AwareDatetime)
#: Retries of a bulk call submitted at once: enough to share the store's commits.
_CONCURRENT = 32


async def retry_request(request: Request) -> Response:
    """202 with the new request's status document, ``Location`` pointing at it."""
    response_id = request.path_params["response_id"]
    record = await _retry(
        request, await tenant_of(request, response_id), response_id, idempotency_key(request)
    )
    return json_response(
        status_doc(request, record), 202, {"Location": poll_url(request, record.response_id)}
    )


async def retry_many(request: Request) -> Response:
    """200 with what became of each request: its retry's status document, or the error that
    kept it from being retried (the others are retried all the same)."""
    body = await decode_body(request, state_of(request).settings.max_body_bytes, JSON)
    try:
        asked = _RETRY_REQUEST.validate_python(body.value)
    except pydantic.ValidationError as exc:
        raise invalid_input(exc) from None
    scheduling(request)  # a wrong header is refused once, not once per request
    tenant = str(request.user.id)
    ids = asked.get("response_ids") or await _matching(request, tenant, asked)
    state_of(request).admission.check_rate(tenant, len(ids))
    gate = asyncio.Semaphore(_CONCURRENT)

    async def one(response_id: str) -> Retried:
        async with gate:
            try:
                record = await _retry(request, tenant, response_id, None, admitted=True)
            except APIError as exc:
                return {"retry_of": response_id, "error": exc.to_body()["error"]}
        return {"retry_of": response_id, "request": status_doc(request, record)}

    page: RetriedPage = {"results": list(await asyncio.gather(*(one(i) for i in dict.fromkeys(ids))))}
    return json_response(page)


async def _matching(request: Request, tenant: str, asked: RetryRequest) -> list[str]:
    """The ids of the tenant's requests the filter picks, newest first, not yet retried."""
    backend = state_of(request).backend
    statuses = [Status(asked["status"])] if "status" in asked else [Status.FAILED, Status.CANCELLED]
    since = _since(asked.get("since"))
    limit = asked.get("limit", MAX_RETRY_IDS)
    found: list[RequestRecord] = []
    for status in statuses:
        before: str | None = None
        while True:
            page = await backend.list_requests(
                tenant, status=status, endpoint=asked.get("endpoint"), limit=MAX_PAGE, before=before
            )
            fresh = [record for record in page if record.created_at >= since]
            found += [record for record in fresh if record.retried_by is None]
            if len(fresh) < len(page) or len(page) < MAX_PAGE or len(found) >= limit:
                break
            before = page[-1].response_id
    found.sort(key=lambda record: record.created_at, reverse=True)
    return [record.response_id for record in found[:limit]]


def _since(value: str | None) -> float:
    if value is None:
        return float("-inf")
    try:
        return _MOMENT.validate_python(value).timestamp()
    except pydantic.ValidationError:
        raise InvalidInput(
            f"since must be a time with its offset, as 2026-12-01T00:00:00Z, got {value!r}", field="since"
        ) from None


async def _retry(
    request: Request, tenant: str, response_id: str, key: str | None, *, admitted: bool = False
) -> RequestRecord:
    state = state_of(request)
    original, inputs = await state.backend.retry_source(tenant, response_id)
    submit = Submit(state, tenant, state.endpoint(original.endpoint))
    if not admitted:
        submit.admit()
    plan = scheduling(request, Scheduling(original.priority, original.retention_s))
    options = SubmitOptions(key, original.webhook, original.webhook_events, plan, retry_of=response_id)
    value: dict[str, Any] = orjson.loads(inputs)
    parts = tuple(await state.uploads.of_request(tenant, response_id))  # used while the original is kept
    return await submit.one(Body(inputs, value, borrowed=parts), options)
