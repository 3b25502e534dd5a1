"""The door ``POST /{endpoint}/predict`` (and its alias ``/infer``): one input, sync or async,
as JSON or as ``multipart/form-data`` (files streamed to the blob store).

A synchronous call is a submit plus a wait on the same queue, so both paths share its
durability, ordering and limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from inferq.gateway.bodies import JSON, decode_body
from inferq.gateway.doors import accepted_response, options_of, submit_for, wants_async
from inferq.gateway.multipart_inputs import MultipartDecoder
from inferq.gateway.outcomes import output_when_done
from inferq.gateway.urls import poll_url

if TYPE_CHECKING:
    from starlette.requests import Request


async def predict(request: Request) -> Response:
    submit = submit_for(request)
    submit.admit()
    asynchronous = wants_async(request)
    options = options_of(request, asynchronous)
    form = MultipartDecoder(submit.state.uploads, submit.tenant, submit.endpoint)
    body = await decode_body(request, submit.state.settings.max_body_bytes, (*JSON, form))
    record = await submit.one(body, options)
    if asynchronous:
        return accepted_response(request, record)
    output = await output_when_done(submit.state, record, poll_url(request, record.response_id))
    return Response(output, 200, media_type="application/json")
