"""The door ``POST /{endpoint}/batch``: many inputs queued in one call, one future each.

A client with thousands of inputs makes a handful of calls instead of thousands. Every
input is validated before any is queued, so a bad one (named by its index) queues
nothing; the queued ones are stored as if each had been submitted alone, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from inferq.errors import InvalidInput
from inferq.gateway.bodies import Body, decode_body
from inferq.gateway.doors import accepted_document, idempotency_key, submit_for
from inferq.gateway.responses import json_response
from inferq.gateway.submit import SubmitOptions
from inferq.protocol.limits import MAX_BATCH_INPUTS

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.protocol.requests import AcceptedBatch

#: The field of a batch body that holds its inputs.
INPUTS = "inputs"


def _items(body: dict[str, Any]) -> list[Body]:
    """The batch's inputs, each a body of its own; 422 naming what is not."""
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
        if not isinstance(item, dict):
            where = f"{INPUTS}[{index}]"
            message = f"{where} must be a JSON object of inputs, got {type(item).__name__}"
            raise InvalidInput(message, field=where)
    return [Body(orjson.dumps(item), item) for item in items]


async def submit_batch(request: Request) -> Response:
    submit = submit_for(request)
    body = await decode_body(request, submit.state.settings.max_body_bytes)
    items = _items(body.value)
    submit.admit(len(items))
    records = await submit.many(items, SubmitOptions(idempotency_key(request)), field=INPUTS)
    answer: AcceptedBatch = {"results": [accepted_document(request, record) for record in records]}
    return json_response(answer, 202)
