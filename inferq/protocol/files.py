"""The documents of ``/v1/files``: an uploaded file, and a page of them."""

from __future__ import annotations

from typing_extensions import TypedDict

from inferq.domain.files import Purpose
from inferq.protocol.requests import Timestamp
from inferq.protocol.schema import documented


@documented
class FileObject(TypedDict):
    """An uploaded file (``POST /v1/files``): an input names it as ``inferq://files/<id>``."""

    id: str
    size: int
    """Its length in bytes."""
    sha256: str
    """Hex SHA-256 of its bytes, to check the upload against."""
    content_type: str
    filename: str | None
    created_at: Timestamp
    expires_at: Timestamp
    """When it is deleted, with its bytes (retention after its upload)."""
    purpose: Purpose
    """``upload``: uploaded on its own, for requests to name; ``request``: a part of one
    request's multipart body, deleted with that request."""


@documented
class FilePage(TypedDict):
    """The caller's files, newest first; ``next`` is the next page's URL, null on the last."""

    results: list[FileObject]
    next: str | None
