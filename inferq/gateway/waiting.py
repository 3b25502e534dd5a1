"""``POST /v1/requests/wait``: the ends of many requests, streamed as they happen.

What ``as_completed`` needs: a client holding 10,000 futures opens one stream instead of
10,000 long polls. The body names the requests (``response_ids``) and how long to wait
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
from typing import TYPE_CHECKING, Any

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent

from inferq.errors import InvalidInput, NotFound
from inferq.gateway.body import read_json_object
from inferq.gateway.urls import response_url

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

#: Most requests one stream follows; a client with more opens more streams.
MAX_IDS = 10_000
#: Longest wait one stream holds; a client goes on with the ids the ``end`` event lists.
MAX_TIMEOUT_S = 300.0
DEFAULT_TIMEOUT_S = 60.0
PING_S = 15.0


def _event(kind: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps(data).decode(), event=kind)


def _arguments(body: dict[str, Any]) -> tuple[list[str], float]:
    unknown = sorted(set(body) - {"response_ids", "timeout", "include_output"})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0])
    ids = body.get("response_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidInput("response_ids must be a non-empty array of response ids", field="response_ids")
    if len(ids) > MAX_IDS:
        raise InvalidInput(
            f"response_ids holds {len(ids)} ids; at most {MAX_IDS} per call", field="response_ids"
        )
    timeout = body.get("timeout", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 <= timeout <= MAX_TIMEOUT_S:
        raise InvalidInput(
            f"timeout must be a number of seconds from 0 to {MAX_TIMEOUT_S:g}", field="timeout"
        )
    if not isinstance(body.get("include_output", False), bool):
        raise InvalidInput("include_output must be true or false", field="include_output")
    return list(dict.fromkeys(ids)), float(timeout)


async def _ends(
    request: Request, ids: list[str], timeout: float, include_output: bool
) -> AsyncIterator[ServerSentEvent]:
    backend, tenant = request.app.state.backend, request.user.id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    going = set(ids)
    with backend.bus.watch_changes_of(ids) as changed:
        to_read = ids
        while True:
            states = await backend.get_many(tenant, to_read)
            ended = [i for i, s in states.items() if not isinstance(s, NotFound) and s.status.is_terminal]
            outputs = await backend.get_outputs(tenant, ended) if include_output and ended else {}
            for response_id, found in states.items():
                if isinstance(found, NotFound):
                    going.discard(response_id)
                    yield _event("missing", {"response_id": response_id, **found.to_body()})
                elif found.status.is_terminal and response_id in going:
                    going.discard(response_id)
                    doc = found.to_status(response_url(request, response_id))
                    if response_id in outputs:
                        doc["output"] = orjson.Fragment(outputs[response_id])
                    yield _event("done", doc)
            remaining = deadline - loop.time()
            if not going or remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.event.wait(), remaining)
            to_read = sorted(changed.take() & going)
    yield _event("end", {"pending": sorted(going)})


async def wait_many(request: Request) -> Response:
    _, body = await read_json_object(request, request.app.state.settings.max_body_bytes)
    ids, timeout = _arguments(body)
    ends = _ends(request, ids, timeout, bool(body.get("include_output", False)))
    return EventSourceResponse(ends, ping=PING_S, headers={"Cache-Control": "no-store"})
