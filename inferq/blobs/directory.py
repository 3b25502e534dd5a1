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

#: Bytes gathered before each write: one thread hop per MiB, not per network chunk.
WRITE_BUFFER = 1 << 20
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
        try:
            pending: list[bytes] = []
            size = 0
            async for chunk in chunks:
                pending.append(chunk)
                size += len(chunk)
                if size >= WRITE_BUFFER:
                    await asyncio.to_thread(handle.write, b"".join(pending))
                    pending, size = [], 0
            await asyncio.to_thread(_finish, handle, b"".join(pending))
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException as exc:
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


def _finish(handle: BinaryIO, tail: bytes) -> None:
    """Write the last bytes and make the whole file durable before it gets its name."""
    with handle:
        handle.write(tail)
        handle.flush()
        os.fsync(handle.fileno())
