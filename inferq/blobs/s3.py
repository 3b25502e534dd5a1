"""Blobs in an S3-compatible bucket, for gateways and workers on many machines.

The client is obstore (object_store, from Rust): it signs, retries, and uploads a stream as
a multipart upload (aborted if the stream fails). Endpoint, region and credentials come
from the usual ``AWS_*`` variables (``AWS_ENDPOINT_URL`` for MinIO, Ceph, R2 and the like).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store as Bucket

from inferq.blobs import BlobMissing, BlobStore, BlobStoreUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Iterator

    from obstore.store import ClientConfig, RetryConfig

#: Size of each part of a multipart upload, and of each chunk read back.
PART_SIZE = 8 << 20
#: A whole-request timeout would cut long transfers short; a stalled read still fails.
CLIENT_OPTIONS: ClientConfig = {"timeout": "1h", "read_timeout": "60s", "connect_timeout": "10s"}
#: Retry a failing call for a while, then answer 503 rather than hold the client.
RETRIES: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=20)}


class S3Store(BlobStore):
    def __init__(self, bucket: str, prefix: str) -> None:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
        options: ClientConfig = {**CLIENT_OPTIONS, "allow_http": endpoint.startswith("http://")}
        self.bucket = Bucket(bucket, prefix=prefix or None, client_options=options, retry_config=RETRIES)
        self.url = f"s3://{bucket}/{prefix}".rstrip("/")

    @contextlib.contextmanager
    def _failing(self, action: str) -> Iterator[None]:
        """obstore's errors (a missing bucket is a FileNotFoundError too) as a 503 naming the store."""
        try:
            yield
        except (BaseError, OSError) as exc:
            raise BlobStoreUnavailable(self.url, action, exc) from exc

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        with self._failing(f"store {key}"):
            await obstore.put_async(self.bucket, key, chunks, chunk_size=PART_SIZE, max_concurrency=4)

    @contextlib.asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        with tempfile.TemporaryDirectory(prefix="inferq-blob-") as directory:
            path = Path(directory) / "blob"
            with path.open("wb") as handle:
                async for chunk in self.read(key):
                    await asyncio.to_thread(handle.write, chunk)
            yield path

    async def read(self, key: str) -> AsyncIterator[bytes]:
        with self._failing(f"read {key}"):
            try:
                result = await obstore.get_async(self.bucket, key)
            except FileNotFoundError:
                raise BlobMissing(key) from None
            async for chunk in result.stream(min_chunk_size=PART_SIZE):
                yield bytes(chunk)

    async def delete(self, keys: list[str]) -> None:
        if keys:
            with self._failing(f"delete {len(keys)} blobs"):
                await obstore.delete_async(self.bucket, keys)
