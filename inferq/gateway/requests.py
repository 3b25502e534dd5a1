"""Future routes under ``/v1/requests``: state (with long poll), response, cancel, delete, list."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.responses import Response

from inferq.domain.status import Status
from inferq.errors import Conflict, InvalidInput
from inferq.gateway.admin import as_seen_by, listed_tenant, tenant_of
from inferq.gateway.predict import failure
from inferq.gateway.responses import json_response
from inferq.gateway.urls import base_url, response_url

if TYPE_CHECKING:
    from starlette.requests import Request

    from inferq.domain.records import RequestRecord

MAX_WAIT_S = 60.0
MAX_PAGE = 200


def _status_doc(request: Request, record: RequestRecord) -> dict[str, object]:
    return as_seen_by(request, record, record.to_status(response_url(request, record.response_id)))


def _number(request: Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}, got {raw}", field=name)
    return value


async def get_request(request: Request) -> Response:
    backend = request.app.state.backend
    response_id = request.path_params["response_id"]
    wait = _number(request, "wait", 0.0, 0.0, MAX_WAIT_S)
    tenant = await tenant_of(request, response_id)
    if wait > 0:
        record = await backend.wait(tenant, response_id, wait)
    else:
        record = await backend.get(tenant, response_id)
    doc = _status_doc(request, record)
    doc.update(await request.app.state.estimates.for_record(record))
    return json_response(doc)


async def get_response(request: Request) -> Response:
    backend = request.app.state.backend
    response_id = request.path_params["response_id"]
    try:
        output = await backend.get_output(request.user.id, response_id)
    except Conflict:
        record = await backend.get(request.user.id, response_id)
        if record.status in (Status.FAILED, Status.CANCELLED):
            raise failure(record) from None
        raise
    return Response(output, 200, media_type="application/json")


async def cancel_request(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    record = await request.app.state.backend.cancel(await tenant_of(request, response_id), response_id)
    if record.status is not Status.CANCELLED:
        raise Conflict(
            f"request {record.response_id} already ended as {record.status.value}",
            status=record.status.value,
        )
    return json_response(_status_doc(request, record))


async def delete_request(request: Request) -> Response:
    """Delete a finished request's inputs and outputs now; it then reads as 404, as if expired."""
    response_id = request.path_params["response_id"]
    await request.app.state.backend.delete(request.user.id, response_id)
    return json_response({"response_id": response_id, "deleted": True})


async def list_requests(request: Request) -> Response:
    params = request.query_params
    status = params.get("status")
    if status is not None and status not in Status._value2member_map_:
        allowed = ", ".join(s.value for s in Status)
        raise InvalidInput(f"status must be one of {allowed}, got {status!r}", field="status")
    limit = int(_number(request, "limit", 50, 1, MAX_PAGE))
    records = await request.app.state.backend.list_requests(
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
    return json_response({"results": [_status_doc(request, r) for r in records], "next": next_url})
