"""Submitting: ``enqueue`` and ``enqueue_many``, idempotency keys, durability, the id secret."""

from __future__ import annotations

import pytest

from inferq.backends import Backend, open_backend
from inferq.domain import clock
from inferq.domain.records import Submission
from inferq.domain.status import Status
from inferq.errors import Conflict
from tests.backends.helpers import ALICE, BOB, ECHO, OTHER, RETENTION_S, Opener, claim, submit

pytestmark = pytest.mark.anyio


async def test_enqueue_stores_a_pending_request_that_expires_a_retention_after_its_creation(
    backend: Backend,
) -> None:
    before = clock.now()
    record, created = await backend.enqueue(Submission(ALICE, ECHO, b'{"x":1}'))
    after = clock.now()
    assert created
    assert (record.tenant, record.endpoint, record.status) == (ALICE, ECHO, Status.PENDING)
    assert before <= record.created_at <= after
    assert record.expires_at == pytest.approx(record.created_at + RETENTION_S)
    assert (record.started_at, record.completed_at, record.attempts) == (None, None, 0)
    assert (record.error_type, record.error, record.progress, record.webhook) == (None, None, None, None)
    stored = await backend.get(ALICE, record.response_id)
    assert (stored.status, stored.created_at, stored.expires_at) == (
        Status.PENDING,
        record.created_at,
        record.expires_at,
    )


async def test_every_submit_gets_an_id_of_its_own(backend: Backend) -> None:
    records = [await submit(backend, inputs=b'{"same":1}') for _ in range(3)]
    assert len({record.response_id for record in records}) == 3


async def test_an_enqueued_request_is_durable_a_new_process_claims_its_inputs_byte_for_byte(
    open_store: Opener,
) -> None:
    gateway = await open_store()
    inputs = b'{"text":"h\xc3\xa9llo"}\x00\xff'
    record = await submit(gateway, inputs=inputs)
    await gateway.close()
    worker = await open_store()
    assert (await worker.get(ALICE, record.response_id)).status is Status.PENDING
    taken = await claim(worker)
    assert taken.record.response_id == record.response_id
    assert taken.inputs == inputs


async def test_an_idempotency_key_with_the_same_body_returns_the_first_request(backend: Backend) -> None:
    first = await submit(backend, key="k1")
    again, created = await backend.enqueue(Submission(ALICE, ECHO, b'{"n":1}', "k1"))
    assert not created
    assert again.response_id == first.response_id
    assert [r.response_id for r in await backend.list_requests(ALICE)] == [first.response_id]


async def test_an_idempotency_key_with_another_body_is_a_conflict_naming_the_first_request(
    backend: Backend,
) -> None:
    first = await submit(backend, key="k1")
    with pytest.raises(Conflict) as refused:
        await backend.enqueue(Submission(ALICE, ECHO, b'{"n":2}', "k1"))
    assert refused.value.details["response_id"] == first.response_id
    assert [r.response_id for r in await backend.list_requests(ALICE)] == [first.response_id]


async def test_an_idempotency_key_holds_after_its_request_ended(backend: Backend) -> None:
    ended = await submit(backend, key="k1")
    await backend.cancel(ALICE, ended.response_id)
    replay, created = await backend.enqueue(Submission(ALICE, ECHO, b'{"n":1}', "k1"))
    assert not created
    assert (replay.response_id, replay.status) == (ended.response_id, Status.CANCELLED)


async def test_idempotency_keys_belong_to_their_tenant(backend: Backend) -> None:
    alices = await submit(backend, ALICE, key="shared")
    bobs, created = await backend.enqueue(Submission(BOB, ECHO, b'{"other":1}', "shared"))
    assert created
    assert bobs.response_id != alices.response_id and bobs.tenant == BOB


async def test_a_deleted_request_frees_its_idempotency_key(backend: Backend) -> None:
    first = await submit(backend, key="k1")
    await backend.cancel(ALICE, first.response_id)
    await backend.delete(ALICE, first.response_id)
    fresh, created = await backend.enqueue(Submission(ALICE, ECHO, b'{"n":2}', "k1"))
    assert created and fresh.response_id != first.response_id


async def test_enqueue_many_stores_each_in_order(backend: Backend) -> None:
    submissions = [Submission(ALICE, (ECHO, OTHER)[n % 2], b'{"n":%d}' % n) for n in range(5)]
    results = await backend.enqueue_many(submissions)
    assert [created for _, created in results] == [True] * 5
    assert [(r.endpoint, r.status) for r, _ in results] == [(s.endpoint, Status.PENDING) for s in submissions]
    ids = [record.response_id for record, _ in results]
    assert len(set(ids)) == 5
    assert [r.response_id for r in await backend.list_requests(ALICE)] == ids[::-1]
    assert [(await claim(backend, ECHO)).inputs for _ in range(3)] == [s.inputs for s in submissions[::2]]


async def test_enqueue_many_with_one_key_twice_stores_one_request(backend: Backend) -> None:
    twice = Submission(ALICE, ECHO, b'{"n":1}', "k1")
    (first, created_first), (second, created_second) = await backend.enqueue_many([twice, twice])
    assert (created_first, created_second) == (True, False)
    assert first.response_id == second.response_id
    assert len(await backend.list_requests(ALICE)) == 1


async def test_a_conflict_in_enqueue_many_leaves_the_others_queued_and_a_retry_returns_them(
    backend: Backend,
) -> None:
    taken = await submit(backend, key="k2", inputs=b'{"first":1}')
    batch = [
        Submission(ALICE, ECHO, b'{"n":1}', "k1"),
        Submission(ALICE, ECHO, b'{"n":2}', "k2"),  # k2 was used with another body
        Submission(ALICE, ECHO, b'{"n":3}', "k3"),
    ]
    with pytest.raises(Conflict):
        await backend.enqueue_many(batch)
    listed = await backend.list_requests(ALICE)
    assert len(listed) == 3
    queued = {r.response_id for r in listed} - {taken.response_id}
    retried = await backend.enqueue_many([batch[0], batch[2]])
    assert [created for _, created in retried] == [False, False]
    assert {record.response_id for record, _ in retried} == queued
    inputs = [(await claim(backend)).inputs for _ in range(3)]
    assert inputs == [b'{"first":1}', b'{"n":1}', b'{"n":3}']
    assert await backend.claim(ECHO, "w") == []


async def test_every_process_on_one_store_shares_the_id_secret(open_store: Opener) -> None:
    first, second = await open_store(), await open_store()
    secret = await first.secret()
    assert secret and secret == await second.secret() == await first.secret()


async def test_close_is_idempotent(open_store: Opener) -> None:
    backend = await open_store()
    await backend.close()
    await backend.close()


def test_an_unknown_scheme_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="postgres"):
        open_backend("postgres://localhost/inferq")
