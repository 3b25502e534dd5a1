"""``GET /v1/endpoints`` and ``GET /{endpoint}/healthcheck``: what each endpoint can serve now.

For dashboards, operators and cold-start waits: the same numbers the metrics gauges show,
read from the store at call time so every gateway of a deployment answers alike.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from inferq.errors import ServiceUnavailable
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.backends import EndpointStats
    from inferq.protocol.endpoints import EndpointInfo, EndpointList, Ready

#: A loading endpoint is asked about again this soon (the OctoAI SDK retries its 503s).
RETRY_AFTER_S = 1


def describe(name: str, stats: EndpointStats) -> EndpointInfo:
    """One entry of the listing; ``ready`` means the healthcheck would answer 200."""
    return {
        "name": name,
        "ready": stats.ready_workers > 0,
        "workers": stats.workers,
        "ready_workers": stats.ready_workers,
        "pending": stats.pending,
        "running": stats.running,
        "oldest_pending_age_s": stats.oldest_pending_age_s,
    }


async def list_endpoints(request: Request) -> Response:
    state = state_of(request)
    names = list(state.endpoints)
    stats = await asyncio.gather(*(state.backend.endpoint_stats(name) for name in names))
    listing: EndpointList = {"endpoints": [describe(name, s) for name, s in zip(names, stats, strict=True)]}
    return json_response(listing)


async def healthcheck(request: Request) -> Response:
    """200 once a worker of the endpoint has its model loaded; 503 (the cold-start signal)
    until then, with the last setup error when loading failed."""
    state = state_of(request)
    endpoint = state.endpoint(request.path_params["endpoint"])
    if await state.backend.endpoint_ready(endpoint.name):
        ready: Ready = {"status": "ready", "endpoint": endpoint.name}
        return json_response(ready)
    setup_error = await state.backend.setup_error(endpoint.name)
    if setup_error is not None:
        raise ServiceUnavailable(
            f"endpoint {endpoint.name!r} has no worker with its model loaded: its last setup failed: "
            f"{setup_error}",
            retry_after=RETRY_AFTER_S,
            setup_error=setup_error,
        )
    raise ServiceUnavailable(
        f"endpoint {endpoint.name!r} has no worker with its model loaded yet", retry_after=RETRY_AFTER_S
    )
