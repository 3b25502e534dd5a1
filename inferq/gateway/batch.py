"""``POST /{endpoint}/batch``: many inputs queued in one call, one future each.

A client with thousands of inputs makes a handful of calls instead of thousands. Every
input is validated before any is queued, so a bad one (named by its index) queues
nothing; the queued ones are stored as if each had been submitted alone, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from inferq.domain.records import Submission
from inferq.errors import InvalidInput
from inferq.gateway.body import read_json_object
from inferq.gateway.predict import accepted_body, endpoint_of, idempotency_key
from inferq.gateway.responses import json_response
from inferq.service.schema import validate_inputs

if TYPE_CHECKING:
    import pydantic
    from starlette.requests import Request
    from starlette.responses import Response

#: Most inputs in one batch: bounds one call's work and its answer.
MAX_BATCH = 1000


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    unknown = sorted(set(body) - {"inputs"})
    if unknown:
        raise InvalidInput(f'unknown field {unknown[0]!r}: a batch is {{"inputs": [...]}}', field=unknown[0])
    items = body.get("inputs")
    if not isinstance(items, list) or not items:
        raise InvalidInput("inputs must be a non-empty array of input objects", field="inputs")
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"inputs holds {len(items)} items; at most {MAX_BATCH} per call", field="inputs")
    return items


def _validate(model: type[pydantic.BaseModel], index: int, item: Any) -> None:
    where = f"inputs[{index}]"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where} must be a JSON object of inputs, got {type(item).__name__}", field=where)
    try:
        validate_inputs(model, item)
    except InvalidInput as exc:
        field = f"{where}.{exc.details['field']}"
        raise InvalidInput(f"{where}.{exc.message}", **{**exc.details, "field": field}) from None


async def submit_batch(request: Request) -> Response:
    endpoint = endpoint_of(request)
    state, tenant = request.app.state, request.user.id
    _, body = await read_json_object(request, state.settings.max_body_bytes)
    items = _items(body)
    for index, item in enumerate(items):
        _validate(endpoint.inputs, index, item)
    state.admission.check_rate(tenant, len(items))
    await state.admission.check_queues(state.backend, endpoint.name, tenant, len(items))
    key = idempotency_key(request)
    submissions = [
        Submission(tenant, endpoint.name, orjson.dumps(item), None if key is None else f"{key}/{index}")
        for index, item in enumerate(items)
    ]
    stored = await state.backend.enqueue_many(submissions)
    state.metrics.submitted.labels(endpoint.name).inc(sum(created for _, created in stored))
    return json_response({"results": [accepted_body(request, record) for record, _ in stored]}, 202)
