"""The Redis file store: a hash per file, a zset of each tenant's files by creation, and
one zset of every file by expiry for the sweep."""

from __future__ import annotations

from typing import cast

from inferq.backends.contracts import FileStore
from inferq.backends.redis.client import Store, decoded, each, text
from inferq.domain.files import FileRecord, Purpose


def _file(fields: dict[str, bytes]) -> FileRecord:
    return FileRecord(
        id=fields["id"].decode(),
        tenant=fields["tenant"].decode(),
        size=int(fields["size"]),
        sha256=fields["sha256"].decode(),
        content_type=fields["content_type"].decode(),
        filename=text(fields.get("filename")),
        created_at=float(fields["created_at"]),
        expires_at=float(fields["expires_at"]),
        purpose=cast("Purpose", fields["purpose"].decode()),
    )


class RedisFiles(Store, FileStore):
    async def add(self, record: FileRecord) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.file(record.id),
                mapping={
                    "id": record.id,
                    "tenant": record.tenant,
                    "size": record.size,
                    "sha256": record.sha256,
                    "content_type": record.content_type,
                    "filename": record.filename or "",
                    "created_at": record.created_at,
                    "expires_at": record.expires_at,
                    "purpose": record.purpose,
                },
            )
            pipe.zadd(self.keys.files(record.tenant), {record.id: record.created_at})
            pipe.zadd(self.keys.file_expiry, {record.id: record.expires_at})
            await pipe.execute()

    async def get(self, tenant: str, file_id: str) -> FileRecord | None:
        [fields] = await each(self.redis, [self.keys.file(file_id)])
        record = _file(decoded(fields)) if fields else None
        return record if record is not None and record.tenant == tenant else None

    async def newest(self, tenant: str, before: float | None, limit: int) -> list[FileRecord]:
        newest = "+inf" if before is None else f"({before!r}"
        ids = cast(
            "list[bytes]",
            await self.redis.zrevrangebyscore(self.keys.files(tenant), newest, "-inf", start=0, num=limit),
        )
        rows = await each(self.redis, [self.keys.file(file_id.decode()) for file_id in ids])
        return [_file(decoded(row)) for row in rows if row]

    async def delete(self, tenant: str, file_id: str) -> FileRecord | None:
        record = await self.get(tenant, file_id)
        if record is not None:
            await self._remove([record])
        return record

    async def expire(self, now: float, limit: int) -> list[FileRecord]:
        ids = cast(
            "list[bytes]",
            await self.redis.zrangebyscore(self.keys.file_expiry, "-inf", now, start=0, num=limit),
        )
        rows = await each(self.redis, [self.keys.file(file_id.decode()) for file_id in ids])
        records = [_file(decoded(row)) for row in rows if row]
        await self._remove(records)
        if len(records) < len(ids):  # ids whose hash a concurrent delete removed first
            await self.redis.zrem(self.keys.file_expiry, *ids)
        return records

    async def _remove(self, records: list[FileRecord]) -> None:
        """Delete the records; removing one twice (two sweeps at once) is harmless."""
        if not records:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for record in records:
                pipe.delete(self.keys.file(record.id))
                pipe.zrem(self.keys.files(record.tenant), record.id)
                pipe.zrem(self.keys.file_expiry, record.id)
            await pipe.execute()
