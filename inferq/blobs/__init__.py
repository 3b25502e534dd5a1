"""The blob store: where the bytes of uploaded files live, beside the queue (which holds
only their records and references).

One small contract, two stores: a directory (``file:///path``, the embedded default beside
the SQLite file; on a filesystem every machine mounts it also serves many machines) and an
S3-compatible bucket (``s3://bucket/prefix``, endpoint and credentials from the usual
``AWS_*`` variables). :func:`open_blob_store` picks one by URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from inferq.errors import PayloadTooLarge, ServiceUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["BlobMissing", "BlobStore", "BlobStoreUnavailable", "Tally", "open_blob_store"]

#: Seconds a client is told to wait when the blob store cannot be reached.
RETRY_AFTER_S = 5


class BlobMissing(LookupError):
    """No blob under that key: deleted, expired, or never completely written."""


class BlobStoreUnavailable(ServiceUnavailable):
    """The blob store cannot be reached or refused the operation (503, with ``Retry-After``)."""

    def __init__(self, url: str, action: str, exc: BaseException) -> None:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        super().__init__(f"blob store {url} failed to {action}: {reason}", retry_after=RETRY_AFTER_S)


class BlobStore(ABC):
    """Bytes by key. A blob is written whole or not at all: a failed or interrupted ``put``
    leaves nothing readable under its key."""

    #: Where it is, for logs and errors.
    url: str

    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        """Store ``chunks`` under ``key``, streaming (memory does not grow with the size)."""

    @abstractmethod
    def local_path(self, key: str) -> contextlib.AbstractAsyncContextManager[Path]:
        """A local file holding the blob while the context lasts (a download into a
        temporary file where the store is remote); :class:`BlobMissing` if there is none."""

    @abstractmethod
    def read(self, key: str) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks; :class:`BlobMissing` if there is none."""

    @abstractmethod
    async def delete(self, keys: list[str]) -> None:
        """Delete the blobs; a key with no blob is skipped."""

    async def close(self) -> None:
        """Release connections."""


#: Bytes gathered before they are hashed and passed on: one thread hop per MiB, not per
#: network chunk.
BATCH = 1 << 20


@dataclass
class Tally:
    """Counts and hashes bytes as they stream past, and stops them past ``limit`` with a 413
    (so an upload is refused while it streams, not after).

    Bytes pass on in batches of :data:`BATCH`; each is hashed on a thread while the next is
    read (hashlib lets go of the GIL), so hashing costs the event loop nothing.
    """

    limit: int
    size: int = 0

    def __post_init__(self) -> None:
        self._sha256 = hashlib.sha256()

    async def count(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        hashing: asyncio.Future[None] | None = None
        pending: list[bytes] = []
        gathered = 0
        async for chunk in chunks:
            self.size += len(chunk)
            if self.size > self.limit:
                message = f"upload is over the limit of {self.limit} bytes (the server's --max-upload)"
                raise PayloadTooLarge(message, limit=self.limit)
            pending.append(chunk)
            gathered += len(chunk)
            if gathered >= BATCH:
                batch = b"".join(pending)
                pending, gathered = [], 0
                if hashing is not None:
                    await hashing
                hashing = asyncio.ensure_future(asyncio.to_thread(self._sha256.update, batch))
                yield batch
        if hashing is not None:
            await hashing
        if pending:
            batch = b"".join(pending)
            self._sha256.update(batch)
            yield batch

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


class InvalidBlobStoreURL(ValueError):
    """A ``--blob-store`` URL inferq cannot use."""


def open_blob_store(url: str) -> BlobStore:
    """``file:///path`` (or a plain path) for a directory, ``s3://bucket[/prefix]`` for a bucket."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        from inferq.blobs.directory import DirectoryStore

        return DirectoryStore(Path(parts.path if parts.scheme else url).expanduser())
    if parts.scheme == "s3":
        from inferq.blobs.s3 import S3Store

        if not parts.netloc:
            raise InvalidBlobStoreURL(f"blob store URL {url!r} names no bucket (s3://bucket/prefix)")
        return S3Store(parts.netloc, parts.path.strip("/"))
    raise InvalidBlobStoreURL(f"blob store URL {url!r}: use file:///path or s3://bucket/prefix")
