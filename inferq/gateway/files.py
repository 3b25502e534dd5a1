"""Routes under ``/v1/files``: upload a file once, refer to it from any number of requests
as ``inferq://files/<id>``, list, read back and delete the caller's files.

An upload is ``multipart/form-data`` with the file in a part named ``file`` (as OpenAI's
files API takes it), or the raw bytes with their own ``Content-Type`` (and an optional
``?filename=``). Either way it streams into the blob store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.responses import StreamingResponse

from inferq.errors import InvalidInput
from inferq.gateway.multipart import MultipartReader
from inferq.gateway.query import query_number
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.gateway.urls import base_url
from inferq.protocol.limits import DEFAULT_PAGE, MAX_PAGE
from inferq.protocol.render import timestamp

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.domain.files import FileRecord
    from inferq.protocol.files import FileObject, FilePage

#: The multipart part an upload's file travels in.
FILE_PART = "file"


def file_doc(record: FileRecord) -> FileObject:
    return {
        "id": record.id,
        "size": record.size,
        "sha256": record.sha256,
        "content_type": record.content_type,
        "filename": record.filename,
        "created_at": timestamp(record.created_at),
        "expires_at": timestamp(record.expires_at),
        "purpose": record.purpose,
    }


async def upload_file(request: Request) -> Response:
    state, tenant = state_of(request), request.user.id
    state.admission.check_rate(tenant, 1)
    media_type = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        filename = request.query_params.get("filename")
        raw = await state.uploads.store(tenant, request.stream(), media_type, filename)
        return json_response(file_doc(raw), 201)
    uploaded: FileRecord | None = None
    async for part in MultipartReader(request).parts():
        if part.name == FILE_PART and uploaded is None:
            uploaded = await state.uploads.store(tenant, part.chunks(), part.content_type, part.filename)
    if uploaded is None:
        raise InvalidInput(f"the upload has no part named {FILE_PART!r}", field=FILE_PART)
    return json_response(file_doc(uploaded), 201)


async def get_file(request: Request) -> Response:
    record = await state_of(request).uploads.get(request.user.id, request.path_params["file_id"])
    return json_response(file_doc(record))


async def get_file_content(request: Request) -> Response:
    """The file's bytes, streamed from the blob store."""
    uploads = state_of(request).uploads
    record = await uploads.get(request.user.id, request.path_params["file_id"])
    store = uploads.require_store("reading a file")
    headers = {"Content-Length": str(record.size)}
    return StreamingResponse(store.read(record.blob), media_type=record.content_type, headers=headers)


async def delete_file(request: Request) -> Response:
    record = await state_of(request).uploads.delete(request.user.id, request.path_params["file_id"])
    return json_response(file_doc(record))


async def list_files(request: Request) -> Response:
    uploads, tenant = state_of(request).uploads, request.user.id
    limit = int(query_number(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE))
    before = request.query_params.get("before")
    created_before = None if before is None else (await uploads.get(tenant, before)).created_at
    records = await uploads.newest(tenant, created_before, limit)
    next_url = None
    if len(records) == limit:
        next_url = f"{base_url(request)}/v1/files?{urlencode({'limit': limit, 'before': records[-1].id})}"
    page: FilePage = {"results": [file_doc(record) for record in records], "next": next_url}
    return json_response(page)
