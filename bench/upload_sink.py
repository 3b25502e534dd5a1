"""The reference for uploads: a bare Starlette endpoint that streams a request body to disk."""

from __future__ import annotations

import os
import tempfile

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DIRECTORY = os.environ.get("UPLOAD_SINK_DIR") or tempfile.mkdtemp(prefix="upload-sink-")


async def upload(request: Request) -> JSONResponse:
    """Each chunk written as it arrives, as the simplest streaming endpoint does."""
    size = 0
    with open(os.path.join(DIRECTORY, "upload.bin"), "wb") as file:  # noqa: ASYNC230 - the plain way is the reference
        async for chunk in request.stream():
            file.write(chunk)
            size += len(chunk)
    return JSONResponse({"size": size})


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


app = Starlette(routes=[Route("/upload", upload, methods=["POST"]), Route("/hello", hello)])
