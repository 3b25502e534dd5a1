"""The Redis request store: each request is a hash, its inputs and outputs keys of their own.

When a request ends its keys get a TTL of the retention and it joins the ``expiry``
sorted set; :meth:`RedisRequests.expire` walks that set by score, so a sweep costs what
expired.
"""

from __future__ import annotations

import secrets
from typing import cast

from inferq.backends.contracts import RequestStore
from inferq.backends.redis.client import Store, decoded, each, number, text
from inferq.domain.records import RequestRecord, attempts_of
from inferq.domain.scheduling import DEFAULT_COST, NORMAL
from inferq.domain.status import Status
from inferq.domain.webhooks import split_events


def record_from_fields(fields: dict[str, bytes]) -> RequestRecord:
    return RequestRecord(
        response_id=fields["response_id"].decode(),
        tenant=fields["tenant"].decode(),
        endpoint=fields["endpoint"].decode(),
        status=Status(fields["status"].decode()),
        created_at=float(fields["created_at"]),
        expires_at=float(fields["expires_at"]),
        started_at=number(fields.get("started_at")),
        completed_at=number(fields.get("completed_at")),
        attempts=int(fields.get("attempts", b"0")),
        error_type=text(fields.get("error_type")),
        error=text(fields.get("error")),
        progress=number(fields.get("progress")),
        partial_outputs=int(fields.get("partial_outputs", b"0")),
        webhook=text(fields.get("webhook")),
        webhook_events=split_events(text(fields.get("webhook_events"))),
        priority=int(fields.get("priority", NORMAL)),
        cost=float(fields.get("cost", DEFAULT_COST)),
        deadline_at=number(fields.get("deadline_at")),
        retention_s=None if "retention_ms" not in fields else int(fields["retention_ms"]) / 1000,
        history=attempts_of(fields.get("history")),
        retry_of=text(fields.get("retry_of")),
        retried_by=text(fields.get("retried_by")),
        reused_from=text(fields.get("reused_from")),
    )


class RedisRequests(Store, RequestStore):
    _secret: bytes | None = None

    async def secret(self) -> bytes:
        if self._secret is None:
            fresh = secrets.token_bytes(32)
            first = await self.redis.set(self.keys.secret, fresh, nx=True, get=True)
            self._secret = cast("bytes | None", first) or fresh
        return self._secret

    async def get(self, tenant: str, response_id: str) -> RequestRecord | None:
        fields = decoded(cast("dict[bytes, bytes]", await self.redis.hgetall(self.keys.request(response_id))))
        return record_from_fields(fields) if fields.get("tenant") == tenant.encode() else None

    async def get_many(self, tenant: str, response_ids: list[str]) -> list[RequestRecord]:
        rows = await each(self.redis, [self.keys.request(response_id) for response_id in response_ids])
        owner = tenant.encode()
        return [record_from_fields(decoded(row)) for row in rows if row.get(b"tenant") == owner]

    async def output(self, tenant: str, response_id: str) -> bytes | None:
        return (await self.outputs(tenant, [response_id])).get(response_id)

    async def inputs(self, tenant: str, response_id: str) -> bytes | None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.keys.request(response_id), "tenant")
            pipe.get(self.keys.inputs(response_id))
            owner, data = await pipe.execute()
        return bytes(data) if owner == tenant.encode() and data is not None else None

    async def partial(self, tenant: str, response_id: str, start: int) -> list[bytes] | None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.keys.request(response_id), "tenant")
            pipe.lrange(self.keys.partial(response_id), start, -1)
            owner, pieces = await pipe.execute()
        return [bytes(piece) for piece in pieces] if owner == tenant.encode() else None

    async def checkpoint(self, tenant: str, response_id: str) -> bytes | None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.keys.request(response_id), "tenant")
            pipe.get(self.keys.checkpoint(response_id))
            owner, state = await pipe.execute()
        return bytes(state) if owner == tenant.encode() and state is not None else None

    async def outputs(self, tenant: str, response_ids: list[str]) -> dict[str, bytes]:
        async with self.redis.pipeline(transaction=True) as pipe:
            for response_id in response_ids:
                pipe.hmget(self.keys.request(response_id), ["tenant", "status"])
                pipe.get(self.keys.outputs(response_id))
            replies = await pipe.execute()
        wanted = [tenant.encode(), Status.COMPLETED.value.encode()]
        return {
            response_id: bytes(output)
            for response_id, owner, output in zip(response_ids, replies[::2], replies[1::2], strict=True)
            if owner == wanted and output is not None
        }

    async def owner(self, response_id: str) -> str | None:
        return text(cast("bytes | None", await self.redis.hget(self.keys.request(response_id), "tenant")))

    async def list(
        self, tenant: str | None, status: Status | None, endpoint: str | None, limit: int, before: str | None
    ) -> list[RequestRecord]:
        index = self.keys.all_requests if tenant is None else self.keys.tenant(tenant)
        below = "+inf"
        if before is not None:
            score = await self.redis.zscore(index, before)
            if score is None:
                return []
            below = f"({int(score)}"
        # unfiltered, one page of ids is one page of records (bar a few expired)
        batch = limit if status is None and endpoint is None else max(limit, 100)
        records: list[RequestRecord] = []
        while len(records) < limit:
            reply = await self.redis.zrevrangebyscore(
                index, below, "-inf", start=0, num=batch, withscores=True
            )
            page = cast("list[tuple[bytes, float]]", reply)
            if not page:
                break
            rows = await each(self.redis, [self.keys.request(rid.decode()) for rid, _ in page])
            for row in rows:
                fields = decoded(row)
                if fields and _matches(fields, status, endpoint) and len(records) < limit:
                    records.append(record_from_fields(fields))
            below = f"({int(page[-1][1])}"
        return records

    async def count_active(self, tenant: str, limit: int) -> int:
        return min(limit, int(await self.redis.scard(self.keys.active(tenant))))

    async def delete(self, tenant: str, response_id: str) -> Status | None:
        status = await self.run("delete", response_id, tenant)
        return None if status is None else Status(status.decode())

    async def expire(self, now: float, limit: int) -> int:
        return int(await self.run("expire", now, limit))


def _matches(fields: dict[str, bytes], status: Status | None, endpoint: str | None) -> bool:
    if status is not None and fields["status"] != status.value.encode():
        return False
    return endpoint is None or fields["endpoint"] == endpoint.encode()
