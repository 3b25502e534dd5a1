"""The events of a request's stream (``GET /v1/requests/{id}/events``), as the SDK yields them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from inferq.protocol.limits import STREAM_PING_S
from inferq.protocol.streams import FINAL_EVENTS, OUTPUT
from inferq.sdk._base import check_state
from inferq.sdk.retry import DEFAULT_RETRY_FOR_S, unreachable

if TYPE_CHECKING:
    from httpx_sse import ServerSentEvent

    from inferq.sdk.future import InferenceFuture

#: The server keeps a stream alive with a comment every few seconds, so a read that has
#: waited for four of them has lost the stream.
STREAM_TIMEOUT = httpx.Timeout(30.0, read=4 * STREAM_PING_S)


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One change of a request: ``type`` is ``queued``, ``running``, ``progress``,
    ``completed``, ``failed`` or ``cancelled``, and ``state`` its status document then; or
    ``output``, whose ``state`` holds new pieces of partial output (:attr:`outputs`)."""

    type: str
    state: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.state.get("status"))

    @property
    def progress(self) -> float | None:
        return self.state.get("progress")

    @property
    def queue_position(self) -> int | None:
        return self.state.get("queue_position")

    @property
    def outputs(self) -> list[Any]:
        """The pieces of output an ``output`` event brings (a transcript's new segments)."""
        return list(self.state.get("outputs") or []) if self.type == OUTPUT else []

    @property
    def is_final(self) -> bool:
        return self.type in FINAL_EVENTS


def events_url(future: InferenceFuture) -> str:
    return f"{future.poll_url.rstrip('/')}/events"


def parse(sse: ServerSentEvent) -> RequestEvent | None:
    """A request event, or None for what is not one (a comment or a message without a name)."""
    if not sse.event or sse.event == "message" or not sse.data:
        return None
    return RequestEvent(sse.event, sse.json())


class Pieces:
    """What ``stream`` yields from a request's events: each piece of partial output once (a
    reconnected stream sends those so far again), and at the end, the request's failure."""

    def __init__(self) -> None:
        self._seen = 0

    def new(self, event: RequestEvent) -> list[Any]:
        """The pieces ``event`` brings that were not yielded yet; raises for a request that
        failed or was cancelled, as its future's ``result`` would."""
        if event.is_final:
            check_state(event.state)
        if event.type != OUTPUT:
            return []
        start, outputs = int(event.state["start"]), event.outputs
        fresh = outputs[max(0, self._seen - start) :]
        self._seen = max(self._seen, start + len(outputs))
        return fresh


class Reconnects:
    """When a stream drops before its final event, the SDK connects again (the server
    starts over with the current state), backing off; once drops have gone on for
    ``retry_for`` seconds without an event in between, the last one is raised as
    :class:`~inferq.errors.ServerUnreachable`."""

    BACKOFF_S = 0.5
    MAX_BACKOFF_S = 10.0

    def __init__(self, retry_for: float = DEFAULT_RETRY_FOR_S) -> None:
        self.retry_for = retry_for
        self._drops = 0
        self._since: float | None = None

    def received(self) -> None:
        self._drops, self._since = 0, None

    def dropped(self, error: httpx.TransportError) -> float:
        """The pause before connecting again; raises past ``retry_for``."""
        now = time.monotonic()
        self._since = now if self._since is None else self._since
        pause = min(self.BACKOFF_S * 2**self._drops, self.MAX_BACKOFF_S)
        self._drops += 1
        if now + pause - self._since > self.retry_for:
            raise unreachable(error) from error
        return float(pause)
