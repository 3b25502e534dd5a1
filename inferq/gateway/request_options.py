"""How a request is to be scheduled and kept, read from the same HTTP headers at every door.

Headers, because they pass unchanged through every body a door takes (JSON, multipart, a
batch, OpenAI's forms) and never collide with a model's inputs: ``Inferq-Priority``
(``high``, ``normal``, ``low``: the order among the caller's own requests; ``urgent``,
for admin tokens only: before every token's share),
``Cancel-After`` (a duration, as Replicate's: cancel the request if it has not ended by
then), ``Inferq-Retention`` (a duration: keep its data that long after it ends, up to
the server's ``--max-retention``) and ``Prefer: reuse`` (RFC 7240: answer it at once from
a completed request of the same token, endpoint, model version and inputs, if one is
still kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferq.domain.durations import format_duration, parse_duration
from inferq.domain.scheduling import NORMAL, PRIORITIES, URGENT, priority_name
from inferq.errors import Forbidden, InvalidInput
from inferq.protocol.options import CANCEL_AFTER, PRIORITY, RETENTION, REUSE

if TYPE_CHECKING:
    from starlette.requests import Request


@dataclass(frozen=True, slots=True)
class Scheduling:
    """A submit's priority level, its own retention and its deadline (seconds from now)."""

    priority: int = NORMAL
    retention_s: float | None = None
    cancel_after_s: float | None = None
    reuse: bool = False


#: What a submit gets where its headers ask for nothing.
DEFAULT = Scheduling()


def prefers(request: Request, preference: str) -> bool:
    """Whether the ``Prefer`` header (RFC 7240) asks for ``preference``."""
    tokens = (part.split(";")[0].strip().lower() for part in request.headers.get("prefer", "").split(","))
    return preference in tokens


def scheduling_of(request: Request, max_retention_s: float, default: Scheduling = DEFAULT) -> Scheduling:
    """The options the request's headers ask for, the priority and retention of ``default``
    where they ask for none; 422 naming the header that is wrong."""
    headers = request.headers
    name = headers.get(PRIORITY, priority_name(default.priority)).strip().lower()
    level = PRIORITIES.get(name)  # type: ignore[call-overload]
    if level is None:
        raise InvalidInput(f"{PRIORITY} must be one of {', '.join(PRIORITIES)}, got {name!r}", field=PRIORITY)
    if level == URGENT and not request.user.is_admin:
        raise Forbidden(f"{PRIORITY}: {name} is for admin tokens; yours may use high, normal or low")
    cancel_after = _duration(headers.get(CANCEL_AFTER), CANCEL_AFTER)
    return Scheduling(
        level, _retention(request, max_retention_s, default), cancel_after, prefers(request, REUSE)
    )


def _retention(request: Request, max_retention_s: float, default: Scheduling) -> float | None:
    """The header's retention, refused past the server's most; else ``default``'s, cut to it."""
    asked = request.headers.get(RETENTION)
    if asked is None:
        return None if default.retention_s is None else min(default.retention_s, max_retention_s)
    retention = _seconds(asked, RETENTION)
    if retention > max_retention_s:
        raise InvalidInput(
            f"{RETENTION} may be at most {format_duration(max_retention_s)} on this server "
            f"(--max-retention), got {asked!r}",
            field=RETENTION,
            limit=max_retention_s,
        )
    return retention


def _duration(value: str | None, header: str) -> float | None:
    return None if value is None else _seconds(value, header)


def _seconds(value: str, header: str) -> float:
    """A duration header's seconds; 422 naming ``header`` when it is not one."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise InvalidInput(f"{header}: {exc}", field=header) from None
