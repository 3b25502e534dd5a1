"""What a submit may ask for (``webhook_events_filter``) and the body each event sends."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import orjson

from inferq.domain.webhooks import DEFAULT_EVENTS, EVENTS
from inferq.errors import InvalidInput
from inferq.protocol.render import request_status, timestamp
from inferq.protocol.webhooks import EVENT_TYPES

if TYPE_CHECKING:
    from inferq.domain.records import RequestRecord
    from inferq.domain.webhooks import WebhookLease
    from inferq.protocol.requests import StatusWithOutput
    from inferq.protocol.webhooks import WebhookEvent


def parse_events_filter(values: list[str]) -> tuple[str, ...]:
    """``start,completed`` (comma-separated, or the parameter repeated) → the events, in
    :data:`EVENTS` order; the default when none is given; 422 naming an unknown one."""
    asked = {part.strip() for value in values for part in value.split(",") if part.strip()}
    if not values:
        return DEFAULT_EVENTS
    unknown = sorted(asked - set(EVENTS))
    if unknown or not asked:
        raise InvalidInput(
            f"webhook_events_filter takes {' and '.join(EVENTS)} (comma-separated), "
            f"got {', '.join(map(repr, unknown or values))}",
            field="webhook_events_filter",
        )
    return tuple(event for event in EVENTS if event in asked)


def payload(lease: WebhookLease, record: RequestRecord, output: bytes | None, response_url: str) -> bytes:
    """``{"type", "timestamp", "data"}``: ``data`` is the request's status document as it is
    now, with ``"output"`` (the response, as stored) when a completed request reports its end."""
    data = cast("StatusWithOutput", request_status(record, response_url))
    if lease.event == "completed" and output is not None:
        data["output"] = orjson.Fragment(output)
    event: WebhookEvent = {
        "type": EVENT_TYPES[lease.event],
        "timestamp": timestamp(lease.created_at),
        "data": data,
    }
    return orjson.dumps(event)
