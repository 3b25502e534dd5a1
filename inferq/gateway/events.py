"""``GET /v1/requests/{id}/events``: a request's changes as server-sent events, until it ends.

Each event's ``data`` is the request's status document (with its estimates) at that
moment, and its ``event`` names what changed: ``queued`` (again on each move in the
queue), ``running``, ``progress``, then ``completed``, ``failed`` or ``cancelled``, after
which the stream closes. ``output`` events carry, instead, the pieces of output the model's
checkpoints saved since the last one (all so far on connecting), before the state they
came with; it closes too once its token is revoked (checked every few
seconds). The stream wakes on the store's notifications; the queue
position is re-read each second because other requests' claims move it and nothing
names this request when they do, with every other stream's of the endpoint
(:mod:`inferq.gateway.positions`). A reconnecting client gets the current state first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent

from inferq.backends import BackendUnavailable
from inferq.domain.status import Status
from inferq.gateway.auth import STREAM_TOKEN_CHECK_S, StreamAuth
from inferq.gateway.responses import partial_output
from inferq.gateway.state import state_of
from inferq.gateway.urls import response_url
from inferq.protocol.limits import STREAM_PING_S
from inferq.protocol.render import request_status
from inferq.protocol.streams import OUTPUT, PROGRESS, QUEUED, RUNNING

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.domain.records import RequestRecord
    from inferq.protocol.requests import RequestStatus

log = logging.getLogger(__name__)

#: How often a pending request's queue position is read again.
POSITION_REFRESH_S = 1.0
#: A running request is re-read this often even without a notification (a worker that
#: died puts it back in the queue without announcing it).
RUNNING_REFRESH_S = 5.0


def _kind(record: RequestRecord, last: RequestRecord | None) -> str | None:
    """The event ``record`` makes after ``last`` was sent, or None when nothing shown changed."""
    if record.status is Status.PENDING:
        moved = (
            last is None or last.status is not Status.PENDING or last.queue_position != record.queue_position
        )
        return QUEUED if moved else None
    if record.status is Status.RUNNING:
        if last is None or last.status is not Status.RUNNING or last.attempts != record.attempts:
            return RUNNING
        return PROGRESS if record.progress != last.progress else None
    return str(record.status.value)


async def _document(request: Request, record: RequestRecord) -> RequestStatus:
    doc = request_status(record, response_url(request, record.response_id))
    return await state_of(request).estimates.add_to(doc, record)


async def _changes(request: Request, response_id: str, endpoint: str) -> AsyncIterator[ServerSentEvent]:
    state, tenant = state_of(request), request.user.id
    backend, positions = state.backend, state.positions
    auth = StreamAuth(request, backend)
    loop = asyncio.get_running_loop()
    last: RequestRecord | None = None
    sent = delivered = 0
    with backend.bus.watch_changes(response_id) as changed, positions.watching(response_id, endpoint):
        while True:
            changed.clear()
            if await auth.revoked(loop.time()):
                return
            try:
                record = await backend.get(tenant, response_id, position=False)
                if record.status is Status.PENDING:
                    record = dataclasses.replace(record, queue_position=await positions.of(record))
            except BackendUnavailable as exc:
                log.info("event stream of %s waiting for the store: %s", response_id, exc)
            else:
                if record.partial_outputs > delivered:
                    outputs = await backend.partial(tenant, response_id, delivered)
                    sent += 1
                    data = partial_output(record, delivered, outputs).decode()
                    yield ServerSentEvent(data=data, event=OUTPUT, id=str(sent))
                    delivered += len(outputs)
                kind = _kind(record, last)
                if kind is not None:
                    sent += 1
                    data = orjson.dumps(await _document(request, record)).decode()
                    yield ServerSentEvent(data=data, event=kind, id=str(sent))
                    last = record
                if record.status.is_terminal:
                    return
            refresh = min(
                RUNNING_REFRESH_S
                if last is not None and last.status is Status.RUNNING
                else POSITION_REFRESH_S,
                STREAM_TOKEN_CHECK_S,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), refresh)


async def request_events(request: Request) -> Response:
    """Another tenant's or a gone request is answered as a JSON error before any stream starts."""
    response_id = request.path_params["response_id"]
    record = await state_of(request).backend.get(request.user.id, response_id, position=False)
    return EventSourceResponse(
        _changes(request, response_id, record.endpoint),
        ping=STREAM_PING_S,
        headers={"Cache-Control": "no-store"},
    )
