"""What a store holds, read behind inferq's back: to show that deleted data is gone from it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def sqlite_path(backend: str) -> Path:
    return Path(backend.removeprefix("sqlite:///"))


def stored_bytes(backend: str) -> bytes:
    """Every byte the store keeps: each SQLite file (database, WAL, shared memory), or the
    value of every Redis key under the backend's prefix."""
    if backend.startswith("sqlite"):
        db = sqlite_path(backend)
        return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    client, prefix = _redis(backend)
    try:
        return b"".join(_redis_value(client, key) for key in client.scan_iter(f"{prefix}:*", count=1000))
    finally:
        client.close()


def stored_requests(backend: str) -> int:
    """How many requests the store holds, whatever their state."""
    if backend.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(backend)) as conn:
            return int(conn.execute("SELECT count(*) FROM requests").fetchone()[0])
    client, prefix = _redis(backend)
    try:
        return sum(1 for _ in client.scan_iter(f"{prefix}:req:*", count=1000))
    finally:
        client.close()


def _redis(backend: str) -> tuple[Any, str]:
    import redis

    from inferq.backends.redis import parse_url

    url, prefix = parse_url(backend)
    return redis.Redis.from_url(url), prefix


def _redis_value(client: Any, key: bytes) -> bytes:
    kind = client.type(key)
    if kind == b"string":
        return key + (client.get(key) or b"")
    if kind == b"hash":
        return key + b"".join(k + v for k, v in client.hgetall(key).items())
    if kind == b"zset":
        return key + b"".join(client.zrange(key, 0, -1))
    if kind == b"set":
        return key + b"".join(client.smembers(key))
    if kind == b"stream":
        return key + b"".join(k + v for _, entry in client.xrange(key) for k, v in entry.items())
    return key
