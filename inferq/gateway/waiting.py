"""``POST /v1/requests/wait``: the ends of many requests, streamed as they happen.

What ``as_completed`` needs: a client holding thousands of futures opens one stream instead
of thousands of long polls. The body names the requests (``response_ids``) and how long to wait
(``timeout``); the answer is server-sent events: ``done`` with the status document of
each request as it ends (at once for those already ended; with its ``output`` too when
the body says ``"include_output": true``), ``missing`` for ids that
are unknown or expired, and ``end`` with the ids still going when ``timeout`` passes
(an empty list once all ended). The requests are read once, then only those whose
change notifications arrive: the cost follows what ends, not what is watched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent

from inferq.errors import InvalidInput, NotFound
from inferq.gateway.auth import STREAM_TOKEN_CHECK_S, StreamAuth
from inferq.gateway.bodies import decode_body
from inferq.gateway.state import state_of
from inferq.gateway.urls import response_url
from inferq.protocol.limits import (
    DEFAULT_WAIT_STREAM_S,
    MAX_ID_LENGTH,
    MAX_WAIT_IDS,
    MAX_WAIT_STREAM_S,
    STREAM_PING_S,
)
from inferq.protocol.render import request_status
from inferq.protocol.streams import DONE, END, MISSING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.protocol.requests import StatusWithOutput
    from inferq.protocol.streams import WaitEnd, WaitMissing


def _event(kind: str, data: Mapping[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps(data).decode(), event=kind)


def _arguments(body: dict[str, Any]) -> tuple[list[str], float]:
    unknown = sorted(set(body) - {"response_ids", "timeout", "include_output"})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0])
    ids = body.get("response_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidInput("response_ids must be a non-empty array of response ids", field="response_ids")
    if any(len(i) > MAX_ID_LENGTH for i in ids):
        raise InvalidInput(
            f"response_ids holds an id over {MAX_ID_LENGTH} characters: not a response id",
            field="response_ids",
            limit=MAX_ID_LENGTH,
        )
    if len(ids) > MAX_WAIT_IDS:
        raise InvalidInput(
            f"response_ids holds {len(ids)} ids; at most {MAX_WAIT_IDS} per call", field="response_ids"
        )
    timeout = body.get("timeout", DEFAULT_WAIT_STREAM_S)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 <= timeout <= MAX_WAIT_STREAM_S
    ):
        raise InvalidInput(
            f"timeout must be a number of seconds from 0 to {MAX_WAIT_STREAM_S:g}", field="timeout"
        )
    if not isinstance(body.get("include_output", False), bool):
        raise InvalidInput("include_output must be true or false", field="include_output")
    return list(dict.fromkeys(ids)), float(timeout)


async def _ends(
    request: Request, ids: list[str], timeout: float, include_output: bool
) -> AsyncIterator[ServerSentEvent]:
    backend, tenant = state_of(request).backend, request.user.id
    auth = StreamAuth(request, backend)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    going = set(ids)
    with backend.bus.watch_changes_of(ids) as changed:
        to_read = ids
        while True:
            if await auth.revoked(loop.time()):
                return
            states = await backend.get_many(tenant, to_read)
            ended = [i for i, s in states.items() if not isinstance(s, NotFound) and s.status.is_terminal]
            outputs = await backend.get_outputs(tenant, ended) if include_output and ended else {}
            for response_id, found in states.items():
                if isinstance(found, NotFound):
                    going.discard(response_id)
                    missing: WaitMissing = {"response_id": response_id, "error": found.to_body()["error"]}
                    yield _event(MISSING, missing)
                elif found.status.is_terminal and response_id in going:
                    going.discard(response_id)
                    done = cast("StatusWithOutput", request_status(found, response_url(request, response_id)))
                    if response_id in outputs:
                        done["output"] = orjson.Fragment(outputs[response_id])
                    yield _event(DONE, done)
            remaining = deadline - loop.time()
            if not going or remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.event.wait(), min(remaining, STREAM_TOKEN_CHECK_S))
            to_read = sorted(changed.take() & going)
    end: WaitEnd = {"pending": sorted(going)}
    yield _event(END, end)


async def wait_many(request: Request) -> Response:
    body = await decode_body(request, state_of(request).settings.max_body_bytes)
    ids, timeout = _arguments(body.value)
    ends = _ends(request, ids, timeout, bool(body.value.get("include_output", False)))
    return EventSourceResponse(ends, ping=STREAM_PING_S, headers={"Cache-Control": "no-store"})
