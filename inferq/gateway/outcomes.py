"""How a request's end is answered: its outputs, or the error it ended with.

Shared by a synchronous submit (which waits for the end) and ``GET .../response``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.domain.status import Status
from inferq.errors import Conflict, GatewayTimeout, request_failure

if TYPE_CHECKING:
    from inferq.domain.records import RequestRecord
    from inferq.errors import APIError
    from inferq.gateway.state import GatewayState


def failure(record: RequestRecord) -> APIError:
    """The error a failed or cancelled request answers with, typed as the worker recorded it."""
    if record.status is Status.CANCELLED:
        why = "" if record.error is None else f": {record.error}"
        reason = {} if record.error_type is None else {"reason": record.error_type}
        return Conflict(
            f"request {record.response_id} was cancelled{why}", status=Status.CANCELLED.value, **reason
        )
    return request_failure(record.error_type, record.error, record.response_id)


async def output_when_done(state: GatewayState, record: RequestRecord, poll_url: str) -> bytes:
    """Wait up to ``--sync-timeout`` for ``record`` to end: its outputs, the error it failed
    with, or 504 with ``poll_url`` (the request goes on)."""
    timeout = state.settings.sync_timeout_s
    record = await state.backend.wait(record.tenant, record.response_id, timeout)
    if record.status is Status.COMPLETED:
        return await state.backend.get_output(record.tenant, record.response_id)
    if not record.status.is_terminal:
        raise GatewayTimeout(
            f"no result within {timeout:g} s; the request goes on: poll its future",
            response_id=record.response_id,
            poll_url=poll_url,
        )
    raise failure(record)
