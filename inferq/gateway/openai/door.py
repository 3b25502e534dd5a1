"""What every OpenAI route does with a decoded body: resolve ``model`` to an endpoint, queue
through the shared submit use-case, and answer as OpenAI's clients expect (the result, once
it is ready) or, asked with ``Prefer: respond-async``, with inferq's 202 and future."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from inferq.errors import InvalidInput
from inferq.gateway.doors import accepted_response, options_of, wants_async
from inferq.gateway.outcomes import output_when_done
from inferq.gateway.state import state_of
from inferq.gateway.submit import Submit
from inferq.gateway.urls import poll_url

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.gateway.bodies import Body
    from inferq.gateway.state import Endpoint


def admit(request: Request) -> None:
    """The caller's submit rate, checked before the body is read (Submit.admit's check: the
    endpoint is only known once the body names its model)."""
    state_of(request).admission.check_rate(request.user.id, 1)


async def submit(
    request: Request,
    endpoint: Endpoint,
    body: Body,
    answer: Callable[[dict[str, Any]], Response],
    renamed: Callable[[InvalidInput], InvalidInput] = lambda exc: exc,
) -> Response:
    """Queue ``body`` to ``endpoint``; the 202, or ``answer`` of the outputs when they are
    ready. An invalid input is raised as ``renamed`` names it (the route's own field names).
    The files ``body`` uploaded are deleted again if it is refused."""
    state, tenant = state_of(request), request.user.id
    asynchronous = wants_async(request)
    try:
        record = await Submit(state, tenant, endpoint).one(body, options_of(request, asynchronous))
    except InvalidInput as exc:
        raise renamed(exc) from None
    if asynchronous:
        return accepted_response(request, record)
    try:
        output = await output_when_done(state, record, poll_url(request, record.response_id))
    except InvalidInput as exc:
        raise renamed(exc) from None
    return answer(orjson.loads(output))
