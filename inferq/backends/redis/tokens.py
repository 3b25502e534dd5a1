"""The Redis token store: a hash per token, and its secret's hash → id until revoked."""

from __future__ import annotations

from typing import cast

from inferq.backends.contracts import TokenStore
from inferq.backends.redis.client import Store, decoded, each, number, pairs
from inferq.tokens import TokenInfo


def _token(fields: dict[str, bytes]) -> TokenInfo:
    return TokenInfo(
        id=fields["id"].decode(),
        name=fields["name"].decode(),
        created_at=float(fields["created_at"]),
        revoked_at=number(fields.get("revoked_at")),
        admin=fields.get("admin") == b"1",
    )


class RedisTokens(Store, TokenStore):
    async def create(self, info: TokenInfo, digest: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.token(info.id),
                mapping={
                    "id": info.id,
                    "name": info.name,
                    "hash": digest,
                    "admin": int(info.admin),
                    "created_at": info.created_at,
                },
            )
            pipe.set(self.keys.token_hash(digest), info.id)
            pipe.zadd(self.keys.tokens, {info.id: info.created_at})
            await pipe.execute()

    async def list(self) -> list[TokenInfo]:
        ids = cast("list[bytes]", await self.redis.zrange(self.keys.tokens, 0, -1))
        rows = await each(self.redis, [self.keys.token(token_id.decode()) for token_id in ids])
        return [_token(decoded(row)) for row in rows if row]

    async def revoke(self, token_id: str, now: float) -> bool:
        return bool(await self.run("revoke_token", token_id, now))

    async def find(self, digest: str) -> TokenInfo | None:
        flat = await self.run("authenticate", digest)
        if flat is None:
            return None
        info = _token(pairs(flat))
        return None if info.revoked_at is not None else info
