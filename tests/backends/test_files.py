"""The file store: records of uploaded files, by owner (newest first) and by expiry; and a
request's inputs read back as stored (what deleting a request's own files starts from)."""

from __future__ import annotations

import dataclasses

import pytest

from inferq.backends import Backend
from inferq.domain import clock
from inferq.domain.files import REQUEST, FileRecord, new_file_id
from tests.backends.helpers import submit

pytestmark = pytest.mark.anyio


def record(tenant: str, created_at: float, expires_at: float, **changes: object) -> FileRecord:
    made = FileRecord(new_file_id(), tenant, 5, "ab" * 32, "audio/mpeg", "talk.mp3", created_at, expires_at)
    return dataclasses.replace(made, **changes)


async def test_a_file_is_its_owners_and_listed_newest_first(backend: Backend) -> None:
    now = clock.now()
    mine = [record("alice", now + n, now + 100) for n in range(3)]
    theirs = record("bob", now, now + 100, purpose=REQUEST, filename=None)
    for each in (*mine, theirs):
        await backend.files.add(each)
    assert await backend.files.get("alice", mine[0].id) == mine[0]
    assert await backend.files.get("bob", theirs.id) == theirs
    assert await backend.files.get("bob", mine[0].id) is None
    assert await backend.files.newest("alice", None, 10) == mine[::-1]
    assert await backend.files.newest("alice", mine[2].created_at, 1) == [mine[1]]
    assert await backend.files.newest("carol", None, 10) == []


async def test_a_file_is_deleted_by_its_owner_only(backend: Backend) -> None:
    now = clock.now()
    made = record("alice", now, now + 100)
    await backend.files.add(made)
    assert await backend.files.delete("bob", made.id) is None
    assert await backend.files.delete("alice", made.id) == made
    assert await backend.files.get("alice", made.id) is None
    assert await backend.files.newest("alice", None, 10) == []
    assert await backend.files.delete("alice", made.id) is None


async def test_expiry_removes_what_expired_in_batches_and_nothing_else(backend: Backend) -> None:
    now = clock.now()
    expired = [record("alice", now - 10, now - 5 + n) for n in range(3)]
    live = record("alice", now, now + 100)
    for each in (*expired, live):
        await backend.files.add(each)
    first = await backend.files.expire(now, 2)
    rest = await backend.files.expire(now, 2)
    assert sorted(r.id for r in first + rest) == sorted(r.id for r in expired)
    assert len(first) == 2 and await backend.files.expire(now, 2) == []
    assert await backend.files.newest("alice", None, 10) == [live]


async def test_a_requests_inputs_read_back_as_stored_to_its_owner_only(backend: Backend) -> None:
    stored = await submit(backend, tenant="alice", inputs=b'{"audio": "inferq://files/x"}')
    assert await backend.requests.inputs("alice", stored.response_id) == b'{"audio": "inferq://files/x"}'
    assert await backend.requests.inputs("bob", stored.response_id) is None
