"""A request's file inputs, made local files for the model: the bytes of an uploaded file
(``inferq://files/<id>``) from the blob store, a URL's body (:mod:`inferq.worker.url_inputs`),
or base64 (or a ``data:`` URI) decoded.

The model gets a :class:`~pathlib.Path` for each, whatever way the file came in; a file it
cannot get is the caller's mistake (:class:`InvalidInput` naming the input), never the
model's failure. The files last while the context does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferq.blobs import BlobMissing
from inferq.domain.files import is_url, referenced_file
from inferq.errors import InvalidInput
from inferq.worker.url_inputs import URLFetcher

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from inferq.backends import Backend
    from inferq.blobs import BlobStore

_DATA_URI = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Sources:
    """Where a worker gets file inputs from."""

    backend: Backend
    blobs: BlobStore | None
    urls: URLFetcher


async def localise(
    inputs: dict[str, Any],
    names: frozenset[str],
    tenant: str,
    sources: Sources,
    stack: contextlib.AsyncExitStack,
) -> dict[str, Any]:
    """``inputs`` with each file input among ``names`` replaced by a local path that lasts
    until ``stack`` closes."""
    local = dict(inputs)
    directory: Path | None = None
    for name in sorted(names & inputs.keys()):
        value = inputs[name]
        if value is None:
            continue
        file_id = referenced_file(value)
        if file_id is not None:
            local[name] = await stack.enter_async_context(_uploaded(name, file_id, tenant, sources))
            continue
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="inferq-input-")))
        if is_url(value):
            local[name] = await sources.urls.fetch(name, value, directory / name)
        else:
            local[name] = await asyncio.to_thread(_decoded, name, value, directory / name)
    return local


@contextlib.asynccontextmanager
async def _uploaded(name: str, file_id: str, tenant: str, sources: Sources) -> AsyncIterator[Path]:
    gone = InvalidInput(
        f"{name}: file {file_id} is gone (it expired or was deleted before the request ran)", field=name
    )
    record = await sources.backend.files.get(tenant, file_id)
    if record is None or sources.blobs is None:
        raise gone
    try:
        async with sources.blobs.local_path(record.blob) as path:
            yield path
    except BlobMissing:
        raise gone from None


def _decoded(name: str, value: str, path: Path) -> Path:
    """Strict base64, tolerating a ``data:`` URI prefix, line breaks and missing padding."""
    text = "".join(_DATA_URI.sub("", value.strip(), count=1).split())
    if not text:
        raise InvalidInput(f"{name} is empty", field=name)
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{name} is not valid base64", field=name) from None
    path.write_bytes(data)
    return path
