"""Uploaded files, as every door sees them: stream one into the blob store and record it,
find one of the caller's, delete one, sweep the expired. The rules (ownership, the size
limit, retention) are here once for ``/v1/files`` and multipart submits alike.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from inferq.blobs import Tally
from inferq.domain import clock, lifecycle
from inferq.domain.files import (
    REQUEST,
    UPLOAD,
    FileRecord,
    Purpose,
    blob_key,
    file_ref,
    is_file_id,
    is_url,
    new_file_id,
    referenced_file,
)
from inferq.errors import InvalidInput, NotFound, PayloadTooLarge
from inferq.webhooks.policy import check_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Iterable

    from inferq.backends import Backend
    from inferq.blobs import BlobStore


class NoBlobStore(PayloadTooLarge):
    """A file too large to travel inline, on a deployment with nowhere else to put it (413)."""


@dataclass(frozen=True, slots=True)
class Uploads:
    backend: Backend
    blobs: BlobStore | None
    max_bytes: int

    def require_store(self, what: str) -> BlobStore:
        if self.blobs is None:
            raise NoBlobStore(
                f"{what} needs a blob store: start inferq with --blob-store (s3://bucket/prefix, "
                "or a file:// directory every machine mounts)"
            )
        return self.blobs

    async def store(
        self,
        tenant: str,
        chunks: AsyncIterable[bytes],
        content_type: str,
        filename: str | None,
        purpose: Purpose = UPLOAD,
    ) -> FileRecord:
        """Stream ``chunks`` into a new file of ``tenant``'s; 413 as soon as they pass the limit.
        Nothing is left behind if they fail or the client goes away."""
        blobs = self.require_store("uploading a file")
        file_id = new_file_id()
        tally = Tally(self.max_bytes)
        await blobs.put(blob_key(file_id), tally.count(chunks))
        now = clock.now()
        record = FileRecord(
            file_id,
            tenant,
            tally.size,
            tally.sha256,
            content_type,
            filename,
            now,
            lifecycle.expires_at(now, self.backend.policy.retention_s),
            purpose,
        )
        try:
            await self.backend.files.add(record)
        except BaseException:
            await blobs.delete([record.blob])
            raise
        return record

    async def get(self, tenant: str, file_id: str) -> FileRecord:
        """The caller's file; 404 for any other (unknown, expired, deleted or not theirs)."""
        record = await self.backend.files.get(tenant, file_id) if is_file_id(file_id) else None
        if record is None or record.expires_at <= clock.now():
            raise NotFound(f"no file {file_id!r} (files expire, and are visible only to their owner)")
        return record

    async def newest(self, tenant: str, before: float | None, limit: int) -> list[FileRecord]:
        """The caller's files, newest first, created before ``before``."""
        return await self.backend.files.newest(tenant, before, limit)

    async def delete(self, tenant: str, file_id: str) -> FileRecord:
        """Delete the caller's file and its bytes now."""
        record = await self.backend.files.delete(tenant, file_id) if is_file_id(file_id) else None
        if record is None:
            raise NotFound(f"no file {file_id!r}")
        if self.blobs is not None:
            await self.blobs.delete([record.blob])
        return record

    async def discard(self, tenant: str, file_ids: Iterable[str]) -> None:
        """Delete files a refused or replayed submit uploaded (a no-op for none)."""
        for file_id in file_ids:
            with contextlib.suppress(NotFound):
                await self.delete(tenant, file_id)

    async def check_inputs(
        self,
        tenant: str,
        values: dict[str, object],
        names: Iterable[str],
        allow_urls: bool,
        own: Iterable[str],
    ) -> None:
        """422 naming a file input that refers to a file the caller cannot use (another
        request's, among those not in ``own``, the body's own uploads), or that is a URL
        where URL inputs are off (or not a usable URL)."""
        for name in names:
            value = values.get(name)
            if not isinstance(value, str):
                continue
            if is_url(value):
                _check_url(name, value, allow_urls)
                continue
            file_id = referenced_file(value)
            if file_id is None:
                continue
            try:
                record = await self.get(tenant, file_id)
            except NotFound:
                raise InvalidInput(
                    f"{name}: no file {file_ref(file_id)} (files expire, and are visible only to their owner)",
                    field=name,
                ) from None
            if record.purpose != UPLOAD and file_id not in own:
                raise InvalidInput(
                    f"{name}: file {file_id} came with another request and goes with it; "
                    "upload it with POST /v1/files to use it again",
                    field=name,
                )

    async def of_request(self, tenant: str, response_id: str) -> list[str]:
        """The files that came as parts of the request's body (deleted with it)."""
        raw = await self.backend.requests.inputs(tenant, response_id)
        inputs = orjson.loads(raw) if raw is not None else {}
        referenced = [
            file_id
            for value in inputs.values()
            if isinstance(value, str) and (file_id := referenced_file(value)) is not None
        ]
        return [
            record.id
            for file_id in referenced
            if (record := await self.backend.files.get(tenant, file_id)) is not None
            and record.purpose == REQUEST
        ]

    async def sweep(self, limit: int) -> int:
        """Delete up to ``limit`` expired files and their bytes; returns how many."""
        expired = await self.backend.files.expire(clock.now(), limit)
        if expired and self.blobs is not None:
            await self.blobs.delete([record.blob for record in expired])
        return len(expired)


def _check_url(name: str, value: str, allowed: bool) -> None:
    if not allowed:
        raise InvalidInput(
            f"{name}: URL inputs are off on this server (--allow-url-inputs); upload the file "
            "instead (multipart, or POST /v1/files)",
            field=name,
        )
    check_url(value, name)
