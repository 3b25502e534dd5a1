"""How a request is to be scheduled and kept, read from the same HTTP headers at every door.

Headers, because they pass unchanged through every body a door takes (JSON, multipart, a
batch, OpenAI's forms) and never collide with a model's inputs: ``Inferq-Priority``
(``high``, ``normal``, ``low``: the order among the caller's own requests),
``Cancel-After`` (a duration, as Replicate's: cancel the request if it has not ended by
then) and ``Inferq-Retention`` (a duration: keep its data that long after it ends, up to
the server's ``--max-retention``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferq.domain.durations import format_duration, parse_duration
from inferq.domain.scheduling import DEFAULT_PRIORITY, NORMAL, PRIORITIES
from inferq.errors import InvalidInput
from inferq.protocol.options import CANCEL_AFTER, PRIORITY, RETENTION

if TYPE_CHECKING:
    from starlette.requests import Request


@dataclass(frozen=True, slots=True)
class Scheduling:
    """A submit's priority level, its own retention and its deadline (seconds from now)."""

    priority: int = NORMAL
    retention_s: float | None = None
    cancel_after_s: float | None = None


def scheduling_of(request: Request, max_retention_s: float) -> Scheduling:
    """The options the request's headers ask for; 422 naming the header that is wrong."""
    headers = request.headers
    name = headers.get(PRIORITY, DEFAULT_PRIORITY).strip().lower()
    level = PRIORITIES.get(name)  # type: ignore[call-overload]
    if level is None:
        raise InvalidInput(f"{PRIORITY} must be one of {', '.join(PRIORITIES)}, got {name!r}", field=PRIORITY)
    retention = _duration(headers.get(RETENTION), RETENTION)
    if retention is not None and retention > max_retention_s:
        raise InvalidInput(
            f"{RETENTION} may be at most {format_duration(max_retention_s)} on this server "
            f"(--max-retention), got {headers[RETENTION]!r}",
            field=RETENTION,
            limit=max_retention_s,
        )
    return Scheduling(level, retention, _duration(headers.get(CANCEL_AFTER), CANCEL_AFTER))


def _duration(value: str | None, header: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise InvalidInput(f"{header}: {exc}", field=header) from None
