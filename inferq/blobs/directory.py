"""Blobs as files in a directory: the embedded default, beside the SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from inferq.blobs import BlobMissing, BlobStore, BlobStoreUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

READ_CHUNK = 1 << 20
#: A blob being written; renamed to its key when complete, so a reader never sees half.
PARTIAL = ".part"


class DirectoryStore(BlobStore):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.resolve().as_uri()

    def _path(self, key: str) -> Path:
        return self.root / key

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        path = self._path(key)
        partial = path.with_name(path.name + PARTIAL)
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            handle = await asyncio.to_thread(open, partial, "wb")
        except OSError as exc:
            raise BlobStoreUnavailable(self.url, f"store {key}", exc) from exc
        writing: asyncio.Future[int] | None = None
        try:
            async for chunk in chunks:  # each written on a thread while the next arrives
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(asyncio.to_thread(handle.write, chunk))
            if writing is not None:
                await writing
            await asyncio.to_thread(_finish, handle)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException as exc:
            if writing is not None and not writing.done():
                await asyncio.wait([writing])  # its thread must be done with the file first
            handle.close()
            partial.unlink(missing_ok=True)
            if isinstance(exc, OSError):  # a full or failing disk: the client may try again later
                raise BlobStoreUnavailable(self.url, f"store {key}", exc) from exc
            raise

    @contextlib.asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise BlobMissing(key)
        yield path

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(open, self._path(key), "rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        with handle:
            while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
                yield chunk

    async def delete(self, keys: list[str]) -> None:
        def unlink() -> None:
            for key in keys:
                self._path(key).unlink(missing_ok=True)

        await asyncio.to_thread(unlink)


def _finish(handle: BinaryIO) -> None:
    """Make the whole file durable before it gets its name."""
    with handle:
        handle.flush()
        os.fsync(handle.fileno())
