"""Each request's cost, estimated at submit by its endpoint's Service (:meth:`Service.cost`):
what the queue shares an endpoint's time by (:mod:`inferq.domain.scheduling`).

The estimate runs in a thread, given the request's inputs and its uploaded files as local
files (a directory store's own; a copy, downloaded for the estimate, from S3); over a
small body with no file it runs on the event loop, where it takes microseconds and a
thread's hop would cost more. An estimate that fails counts as the default: a cost is a
hint for the order, and a bad input is the worker's to judge, with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from inferq.blobs import BlobMissing
from inferq.domain.files import blob_key, referenced_file
from inferq.domain.scheduling import DEFAULT_COST, bounded_cost
from inferq.service.base import Service

if TYPE_CHECKING:
    from pathlib import Path

    from inferq.gateway.bodies import Body
    from inferq.gateway.state import Endpoint
    from inferq.gateway.uploads import Uploads

log = logging.getLogger(__name__)

#: The largest body, with no file, whose estimate runs on the event loop.
INLINE_BYTES = 64 * 1024


async def estimate_cost(endpoint: Endpoint, uploads: Uploads, body: Body) -> float:
    """The cost of the request ``body`` asks of ``endpoint``."""
    service = endpoint.service
    if service.cost.__func__ is Service.cost.__func__:  # type: ignore[attr-defined]
        return DEFAULT_COST  # no estimate: no thread, no file
    async with contextlib.AsyncExitStack() as files_open:
        files: dict[str, Path] = {}
        for name in endpoint.file_inputs:
            value = body.value.get(name)
            file_id = referenced_file(value) if isinstance(value, str) else None
            if file_id is not None and uploads.blobs is not None:
                with contextlib.suppress(BlobMissing):
                    files[name] = await files_open.enter_async_context(
                        uploads.blobs.local_path(blob_key(file_id))
                    )
        try:
            if files or len(body.raw) > INLINE_BYTES:
                cost = await asyncio.to_thread(service.cost, body.value, files)
            else:
                cost = service.cost(body.value, files)
        except Exception:
            log.exception(
                "%s: estimating a request's cost failed; it counts as %s", endpoint.name, DEFAULT_COST
            )
            return DEFAULT_COST
    return bounded_cost(float(cost))
