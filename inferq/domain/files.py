"""Uploaded files: what one is, how an input refers to it, and how its id is made.

A file's bytes live in the blob store (:mod:`inferq.blobs`); its record (owner, size,
digest, expiry) lives in the backend beside the requests, so ownership, listing and
retention follow the same rules as a request's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

#: How an input names an uploaded file: ``inferq://files/<id>``.
FILE_REF_PREFIX = "inferq://files/"
_ID_PREFIX = "file_"

#: Why a file is stored: uploaded on its own (``POST /v1/files``), for any number of
#: requests to name; or sent as a part of one request's multipart body, and so that
#: request's alone (deleted with it).
Purpose = Literal["upload", "request"]
UPLOAD: Purpose = "upload"
REQUEST: Purpose = "request"


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One uploaded file; ``blob`` is its key in the blob store."""

    id: str
    tenant: str
    size: int
    sha256: str
    content_type: str
    filename: str | None
    created_at: float
    expires_at: float
    purpose: Purpose = UPLOAD

    @property
    def blob(self) -> str:
        return blob_key(self.id)


def new_file_id() -> str:
    """``file_`` and 128 random bits: unguessable, so an id alone grants nothing."""
    return _ID_PREFIX + secrets.token_hex(16)


def blob_key(file_id: str) -> str:
    return f"files/{file_id}"


def file_ref(file_id: str) -> str:
    return FILE_REF_PREFIX + file_id


def referenced_file(value: str) -> str | None:
    """The file id an ``inferq://files/<id>`` input names, else None."""
    if not value.startswith(FILE_REF_PREFIX):
        return None
    return value.removeprefix(FILE_REF_PREFIX)


def is_url(value: str) -> bool:
    """Whether an input names its file by URL (``--allow-url-inputs``)."""
    return value.startswith(("http://", "https://"))


def is_file_id(value: str) -> bool:
    """Whether ``value`` has the shape of an id we mint (anything else is not found)."""
    rest = value.removeprefix(_ID_PREFIX)
    return value.startswith(_ID_PREFIX) and len(rest) == 32 and all(c in "0123456789abcdef" for c in rest)
