"""Future routes under ``/v1/requests``: state (with long poll), response, partial output,
cancel, delete, list."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import orjson
from starlette.responses import Response

from inferq.domain.status import Status
from inferq.errors import Conflict, InvalidInput
from inferq.gateway.admin import as_seen_by, listed_tenant, tenant_of
from inferq.gateway.outcomes import failure
from inferq.gateway.query import query_number
from inferq.gateway.responses import json_response, partial_output
from inferq.gateway.state import state_of
from inferq.gateway.urls import base_url, response_url
from inferq.protocol.limits import DEFAULT_PAGE, MAX_LONG_POLL_S, MAX_PAGE, MAX_PARTIAL_START
from inferq.protocol.render import request_status
from inferq.protocol.requests import STATUSES

if TYPE_CHECKING:
    from starlette.requests import Request

    from inferq.domain.records import RequestRecord
    from inferq.gateway.state import GatewayState
    from inferq.protocol.requests import Deleted, RequestPage, RequestStatus
    from inferq.service.base import Rendering


def status_doc(request: Request, record: RequestRecord) -> RequestStatus:
    """The request's status document as the caller may see it."""
    return as_seen_by(request, record, request_status(record, response_url(request, record.response_id)))


async def get_request(request: Request) -> Response:
    state = state_of(request)
    response_id = request.path_params["response_id"]
    wait = query_number(request, "wait", 0.0, 0.0, MAX_LONG_POLL_S)
    tenant = await tenant_of(request, response_id)
    if wait > 0:
        record = await state.backend.wait(tenant, response_id, wait)
    else:
        record = await state.backend.get(tenant, response_id)
    return json_response(await state.estimates.add_to(status_doc(request, record), record))


async def get_response(request: Request) -> Response:
    """The outputs as stored, or as the rendering ``?format=`` names (``srt`` of a transcript)."""
    state = state_of(request)
    backend, tenant = state.backend, request.user.id
    response_id = request.path_params["response_id"]
    fmt = request.query_params.get("format", "json")
    rendering = None if fmt == "json" else _rendering(state, await backend.get(tenant, response_id), fmt)
    try:
        output = await backend.get_output(tenant, response_id)
    except Conflict:
        record = await backend.get(tenant, response_id)
        if record.status in (Status.FAILED, Status.CANCELLED):
            raise failure(record) from None
        raise
    if rendering is None:
        return Response(output, 200, media_type="application/json")
    text = await asyncio.to_thread(lambda: rendering.render(orjson.loads(output)))
    return Response(text, 200, media_type=rendering.media_type)


async def get_partial(request: Request) -> Response:
    """The pieces of output the model's checkpoints saved, from ``?start=`` (default 0) on."""
    backend = state_of(request).backend
    response_id = request.path_params["response_id"]
    start = int(query_number(request, "start", 0, 0, MAX_PARTIAL_START))
    tenant = await tenant_of(request, response_id)
    record = await backend.get(tenant, response_id)
    outputs = await backend.partial(tenant, response_id, start)
    return Response(partial_output(record, start, outputs), 200, media_type="application/json")


def _rendering(state: GatewayState, record: RequestRecord, fmt: str) -> Rendering:
    """The endpoint's rendering called ``fmt``; 422 naming the ones it has."""
    endpoint = state.endpoints.get(record.endpoint)
    formats = {} if endpoint is None else endpoint.formats
    if fmt not in formats:
        known = ", ".join(["json", *formats])
        raise InvalidInput(
            f"format must be one of {known} for {record.endpoint}, got {fmt!r}", field="format"
        )
    return formats[fmt]


async def cancel_request(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    record = await state_of(request).backend.cancel(await tenant_of(request, response_id), response_id)
    if record.status is not Status.CANCELLED:
        raise Conflict(
            f"request {record.response_id} already ended as {record.status.value}",
            status=record.status.value,
        )
    return json_response(status_doc(request, record))


async def delete_request(request: Request) -> Response:
    """Delete a finished request's inputs and outputs now, and the files that came as parts of
    its body; it then reads as 404, as if expired."""
    state, tenant = state_of(request), request.user.id
    response_id = request.path_params["response_id"]
    files = await state.uploads.of_request(tenant, response_id)
    await state.backend.delete(tenant, response_id)
    await state.uploads.discard(tenant, files)
    deleted: Deleted = {"response_id": response_id, "deleted": True}
    return json_response(deleted)


async def list_requests(request: Request) -> Response:
    params = request.query_params
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, got {status!r}", field="status")
    limit = int(query_number(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE))
    records = await state_of(request).backend.list_requests(
        listed_tenant(request),
        status=Status(status) if status else None,
        endpoint=params.get("endpoint"),
        limit=limit,
        before=params.get("before"),
    )
    next_url = None
    if len(records) == limit:
        query = [(k, v) for k, v in params.multi_items() if k != "before"]
        query.append(("before", records[-1].response_id))
        next_url = f"{base_url(request)}/v1/requests?{urlencode(query)}"
    page: RequestPage = {"results": [status_doc(request, r) for r in records], "next": next_url}
    return json_response(page)
