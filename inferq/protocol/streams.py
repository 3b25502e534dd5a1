"""The two server-sent event streams: a request's changes, and the ends of many requests.

``GET /v1/requests/{id}/events`` names each event for what changed (:data:`REQUEST_EVENTS`)
and sends the request's status document as its data (the new pieces of partial output,
for ``output``), closing after the terminal one.
``POST /v1/requests/wait`` takes a :class:`WaitRequest` and sends ``done`` for each
request that ends (its status document, with its ``output`` when asked), ``missing`` for each id it cannot read, then ``end``.
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from inferq.protocol.errors import ErrorDetail
from inferq.protocol.limits import DEFAULT_WAIT_STREAM_S, MAX_WAIT_IDS, MAX_WAIT_STREAM_S
from inferq.protocol.requests import STATUSES, TERMINAL_STATUSES, StatusWithOutput
from inferq.protocol.schema import closed, documented

#: A pending request's event, sent again each time it moves in the queue.
QUEUED = "queued"
#: A worker started it (again after a lost lease).
RUNNING = "running"
#: Its model reported progress.
PROGRESS = "progress"
#: Its model saved pieces of output (a :class:`~inferq.protocol.requests.PartialOutput` of the new ones).
OUTPUT = "output"
#: Every event of a request's stream: the four above, then its terminal status, named as
#: the status is, after which the stream closes.
REQUEST_EVENTS: tuple[str, ...] = (
    QUEUED,
    RUNNING,
    PROGRESS,
    OUTPUT,
    *(status for status in STATUSES if status in TERMINAL_STATUSES),
)
#: The events after which a request's stream closes.
FINAL_EVENTS = TERMINAL_STATUSES

#: A wait stream's events: a request ended; an id that is unknown, another tenant's or
#: expired; and the last one, with the ids still going.
DONE = "done"
MISSING = "missing"
END = "end"


@closed
class WaitRequest(TypedDict):
    """The body of ``POST /v1/requests/wait``."""

    response_ids: Annotated[list[str], Field(min_length=1, max_length=MAX_WAIT_IDS)]
    """The requests to wait for."""
    timeout: NotRequired[
        Annotated[
            float, Field(ge=0, le=MAX_WAIT_STREAM_S, json_schema_extra={"default": DEFAULT_WAIT_STREAM_S})
        ]
    ]
    """Seconds to wait before the ``end`` event."""
    include_output: NotRequired[Annotated[bool, Field(json_schema_extra={"default": False})]]
    """Whether each ``done`` carries the request's ``output``."""


@documented
class WaitMissing(TypedDict):
    """A ``missing`` event: an id that cannot be read, and the error reading it answers."""

    response_id: str
    error: ErrorDetail


@documented
class WaitEnd(TypedDict):
    """The ``end`` event: the ids that had not ended when the wait's time ran out."""

    pending: list[str]


#: The data each wait-stream event carries.
WAIT_EVENTS: dict[str, type] = {DONE: StatusWithOutput, MISSING: WaitMissing, END: WaitEnd}
