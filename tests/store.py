"""What a store holds, read behind inferq's back: to show that deleted data is gone from it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: How each kind of Redis value is asked for (on a pipeline) and turned into bytes to search.
_REDIS_READS: dict[bytes, tuple[Callable[[Any, bytes], Any], Callable[[Any], bytes]]] = {
    b"string": (lambda pipe, key: pipe.get(key), lambda value: value or b""),
    b"hash": (lambda pipe, key: pipe.hgetall(key), lambda value: b"".join(k + v for k, v in value.items())),
    b"zset": (lambda pipe, key: pipe.zrange(key, 0, -1), b"".join),
    b"set": (lambda pipe, key: pipe.smembers(key), b"".join),
    b"stream": (
        lambda pipe, key: pipe.xrange(key),
        lambda value: b"".join(k + v for _, entry in value for k, v in entry.items()),
    ),
}


def sqlite_path(backend: str) -> Path:
    return Path(backend.removeprefix("sqlite:///"))


def stored_bytes(backend: str) -> bytes:
    """Every byte the store keeps: each SQLite file (database, WAL, shared memory), or the
    name and value of every Redis key under the backend's prefix."""
    if backend.startswith("sqlite"):
        db = sqlite_path(backend)
        files = [p for p in db.parent.iterdir() if p.name.startswith(db.name) and p.is_file()]
        return b"".join(p.read_bytes() for p in files)
    client, prefix = _redis(backend)
    try:
        return _redis_bytes(client, prefix)
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


def _redis_bytes(client: Any, prefix: str) -> bytes:
    """Each key's name and value, read in two pipelined rounds (types, then values): a shared
    store holds thousands of keys."""
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    kinds = pipe.execute()
    readable = [(key, kind) for key, kind in zip(keys, kinds, strict=True) if kind in _REDIS_READS]
    pipe = client.pipeline(transaction=False)
    for key, kind in readable:
        _REDIS_READS[kind][0](pipe, key)
    values = dict(zip(keys, [b""] * len(keys), strict=True))
    for (key, kind), value in zip(readable, pipe.execute(), strict=True):
        values[key] = _REDIS_READS[kind][1](value)
    return b"".join(key + value for key, value in values.items())
