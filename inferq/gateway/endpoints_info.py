"""``GET /v1/endpoints``: each endpoint this gateway serves, with its workers and queue.

For dashboards and operators: the same numbers the metrics gauges show, as JSON, read
from the store at call time so every gateway of a deployment answers alike.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from inferq.gateway.responses import json_response

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.backends import EndpointStats


def describe(name: str, stats: EndpointStats) -> dict[str, Any]:
    """One entry of the listing; ``ready`` means the healthcheck would answer 200."""
    return {"name": name, "ready": stats.ready_workers > 0, **asdict(stats)}


async def list_endpoints(request: Request) -> Response:
    backend = request.app.state.backend
    names = list(request.app.state.endpoints)
    stats = await asyncio.gather(*(backend.endpoint_stats(name) for name in names))
    return json_response({"endpoints": [describe(name, s) for name, s in zip(names, stats, strict=True)]})
