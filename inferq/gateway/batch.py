"""The door ``POST /{endpoint}/batch``: many inputs queued in one call, one future each.

A client with thousands of inputs makes a handful of calls instead of thousands. Every
input is validated before any is queued, so a bad one (named by its index) queues
nothing; the queued ones are stored as if each had been submitted alone, in order. The
body is JSON, or multipart: a ``json`` part holding it and file parts ``inputs[i].NAME``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from inferq.domain.files import file_ref
from inferq.errors import InvalidInput
from inferq.gateway.bodies import JSON, Body, decode_body
from inferq.gateway.doors import accepted_document, idempotency_key, scheduling, submit_for
from inferq.gateway.multipart_inputs import MultipartDecoder
from inferq.gateway.responses import json_response
from inferq.gateway.submit import SubmitOptions
from inferq.protocol.limits import MAX_BATCH_INPUTS, MAX_INPUT_KEYS

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.protocol.requests import AcceptedBatch

#: The field of a batch body that holds its inputs.
INPUTS = "inputs"


def _items(batch: Body) -> list[Body]:
    """The batch's inputs, each a body of its own (with the files it uploaded and what its
    replays must match); 422 naming what is not."""
    body = batch.value
    unknown = sorted(set(body) - {INPUTS})
    if unknown:
        raise InvalidInput(f'unknown field {unknown[0]!r}: a batch is {{"inputs": [...]}}', field=unknown[0])
    items = body.get(INPUTS)
    if not isinstance(items, list) or not items:
        raise InvalidInput("inputs must be a non-empty array of input objects", field=INPUTS)
    if len(items) > MAX_BATCH_INPUTS:
        raise InvalidInput(
            f"inputs holds {len(items)} items; at most {MAX_BATCH_INPUTS} per call", field=INPUTS
        )
    for index, item in enumerate(items):
        where = f"{INPUTS}[{index}]"
        if not isinstance(item, dict):
            message = f"{where} must be a JSON object of inputs, got {type(item).__name__}"
            raise InvalidInput(message, field=where)
        if len(item) > MAX_INPUT_KEYS:
            message = f"{where} holds {len(item)} inputs; at most {MAX_INPUT_KEYS} per request"
            raise InvalidInput(message, field=where, limit=MAX_INPUT_KEYS)
    compared = (batch.compared or {}).get(INPUTS)
    return [
        Body(
            orjson.dumps(item),
            item,
            tuple(file_id for file_id in batch.files if file_ref(file_id) in item.values()),
            None if compared is None else compared[index],
        )
        for index, item in enumerate(items)
    ]


async def submit_batch(request: Request) -> Response:
    submit = submit_for(request)
    form = MultipartDecoder(submit.state.uploads, submit.tenant, submit.endpoint, batch=True)
    body = await decode_body(request, submit.state.settings.max_body_bytes, (*JSON, form))
    try:
        items = _items(body)
    except InvalidInput:
        await submit.state.uploads.discard(submit.tenant, body.files)
        raise
    submit.admit(len(items))
    options = SubmitOptions(idempotency_key(request), scheduling=scheduling(request))
    records = await submit.many(items, options, field=INPUTS)
    answer: AcceptedBatch = {"results": [accepted_document(request, record) for record in records]}
    return json_response(answer, 202)
