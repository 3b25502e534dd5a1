"""The reference for uploads: a bare Starlette endpoint that streams a request body to disk,
and makes it durable (fsync) before it answers, as inferq does before its 201 or 202."""

from __future__ import annotations

import os
import secrets
import tempfile

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DIRECTORY = os.environ.get("UPLOAD_SINK_DIR") or tempfile.mkdtemp(prefix="upload-sink-")


async def upload(request: Request) -> JSONResponse:
    """Each chunk written as it arrives, as the simplest streaming endpoint does."""
    size = 0
    name = os.path.join(DIRECTORY, f"upload-{secrets.token_hex(4)}.bin")
    with open(name, "wb") as file:  # noqa: ASYNC230 - the plain way is the reference
        async for chunk in request.stream():
            file.write(chunk)
            size += len(chunk)
        file.flush()
        os.fsync(file.fileno())
    return JSONResponse({"size": size})


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


app = Starlette(routes=[Route("/upload", upload, methods=["POST"]), Route("/hello", hello)])
