"""Files in SDK calls: what may stand for a file input, and how each travels.

An input whose value is a :class:`~pathlib.Path`, an open binary file, or an
``inferq.types`` file (``Audio.from_file(...)``) is sent as a part of a
``multipart/form-data`` submit, streamed from disk; the other inputs go as its ``json``
part. A :class:`FileRef` (from ``client.upload``) is sent as its ``inferq://files/<id>``.
Batches cannot carry parts: their files are uploaded first and sent by reference.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from inferq.domain.files import file_ref
from inferq.types import FILE_TYPES, Audio, File, Image

#: An upload's multipart part and the part holding a submit's other inputs (the server's names).
UPLOAD_PART = "file"
JSON_PART = "json"


class FileRef(BaseModel):
    """An uploaded file (``POST /v1/files``), usable as any file input of the owner's requests."""

    id: str
    size: int
    sha256: str
    content_type: str
    filename: str | None = None
    created_at: str
    expires_at: str

    @property
    def ref(self) -> str:
        """``inferq://files/<id>``: how an input names this file."""
        return file_ref(self.id)


#: What may be uploaded, or stand for a file input of a submit.
Uploadable = Path | IO[bytes] | Audio | Image | File

#: A multipart part as httpx takes it: (file name, bytes or an open file, media type).
Part = tuple[str | None, bytes | IO[bytes], str]


def is_file(value: Any) -> bool:
    """Whether ``value`` is sent as a file part rather than as JSON."""
    return isinstance(value, (Path, *FILE_TYPES)) or (hasattr(value, "read") and not isinstance(value, str))


def _media_type(name: str | None) -> str:
    return (mimetypes.guess_type(name)[0] if name else None) or "application/octet-stream"


def part(value: Any, name: str, files: contextlib.ExitStack) -> Part:
    """``value`` as a part, opening a path for as long as ``files`` lasts."""
    if isinstance(value, FILE_TYPES):
        source = value.source
        value = source if source is not None else value.to_bytes()
        if isinstance(value, bytes):
            return name, value, "application/octet-stream"
    if isinstance(value, Path):
        return value.name, files.enter_context(value.open("rb")), _media_type(value.name)
    filename = Path(str(getattr(value, "name", name))).name
    return filename, value, _media_type(filename)


def plain(value: Any) -> Any:
    """A JSON input as sent: a :class:`FileRef` by its reference."""
    return value.ref if isinstance(value, FileRef) else value


def multipart(inputs: Mapping[str, Any], files: contextlib.ExitStack) -> dict[str, Part] | None:
    """The parts of a submit of ``inputs``, or None when none of them is a file (plain JSON)."""
    if not any(is_file(value) for value in inputs.values()):
        return None
    parts = {name: part(value, name, files) for name, value in inputs.items() if is_file(value)}
    others = {name: plain(value) for name, value in inputs.items() if not is_file(value)}
    parts[JSON_PART] = (None, json.dumps(others).encode(), "application/json")
    return parts
