"""Checkpoints (``checkpoint``, ``resume_point``, ``partial``): saved only under a live lease,
handed to the next attempt with every piece of partial output, read by the owner alone,
deleted with the request, and counted by the give-up rule as progress."""

from __future__ import annotations

import pytest

from inferq.backends import Backend
from inferq.domain.status import Status
from inferq.errors import NotFound
from tests.backends.helpers import ALICE, BOB, POLICY, RETENTION_S, claim, submit

pytestmark = pytest.mark.anyio

DIED = "its worker exited"


async def test_a_checkpoint_appends_partial_output_and_the_next_attempt_resumes_from_the_last(
    backend: Backend,
) -> None:
    record = await submit(backend)
    first = await claim(backend)
    assert await backend.resume_point(first) is None  # a first attempt starts from nothing
    assert await backend.checkpoint(first, b'{"done":1}', [b'{"step":1}'])
    assert await backend.checkpoint(first, b'{"done":3}', [b'{"step":2}', b'{"step":3}'])
    assert await backend.checkpoint(first, b'{"done":3}', [])  # a state with nothing new to show
    running = await backend.get(ALICE, record.response_id)
    assert running.partial_outputs == 3
    assert await backend.partial(ALICE, record.response_id) == [b'{"step":1}', b'{"step":2}', b'{"step":3}']
    assert await backend.partial(ALICE, record.response_id, 2) == [b'{"step":3}']
    assert await backend.partial(ALICE, record.response_id, 9) == []

    await backend.release_worker("worker-1", DIED)
    again = await claim(backend)
    assert again.record.attempts == 2
    assert await backend.resume_point(again) == (
        b'{"done":3}',
        [b'{"step":1}', b'{"step":2}', b'{"step":3}'],
    )


async def test_only_the_live_lease_saves_a_checkpoint(backend: Backend) -> None:
    record = await submit(backend)
    first = await claim(backend)
    await backend.release_worker("worker-1", DIED)
    second = await claim(backend, worker_id="worker-2")
    assert not await backend.checkpoint(first, b'{"done":9}', [b'{"stale":true}'])
    assert await backend.partial(ALICE, record.response_id) == []
    assert await backend.resume_point(second) is None
    await backend.cancel(ALICE, record.response_id)
    assert not await backend.checkpoint(second, b'{"done":1}', [b"1"])


async def test_partial_output_is_the_owners_alone_and_outlives_the_end_until_deleted(
    backend: Backend,
) -> None:
    record = await submit(backend)
    taken = await claim(backend)
    assert await backend.checkpoint(taken, b"{}", [b'"a"'])
    with pytest.raises(NotFound):
        await backend.partial(BOB, record.response_id)
    assert await backend.fail(taken, "inference_failed", "RuntimeError: late")
    assert await backend.partial(ALICE, record.response_id) == [b'"a"']  # what it got before it failed
    await backend.delete(ALICE, record.response_id)
    with pytest.raises(NotFound):
        await backend.partial(ALICE, record.response_id)


async def test_retention_deletes_the_partial_output_with_the_request(backend: Backend) -> None:
    record = await submit(backend)
    taken = await claim(backend)
    assert await backend.checkpoint(taken, b"{}", [b'"a"'])
    assert await backend.complete(taken, b"{}")
    ended = await backend.get(ALICE, record.response_id)
    assert await backend.expire(ended.completed_at + RETENTION_S + 1) == 1
    with pytest.raises(NotFound):
        await backend.partial(ALICE, record.response_id)


async def test_attempts_that_checkpoint_do_not_count_against_max_attempts(backend: Backend) -> None:
    record = await submit(backend)
    for attempt in range(1, POLICY.max_attempts + 3):  # more lost workers than max_attempts allows
        taken = await claim(backend)
        assert taken.record.attempts == attempt
        assert await backend.checkpoint(taken, b"{}", [str(attempt).encode()])
        await backend.release_worker("worker-1", DIED)
    assert (await backend.get(ALICE, record.response_id)).status is Status.PENDING


async def test_max_attempts_in_a_row_without_a_checkpoint_give_up(backend: Backend) -> None:
    record = await submit(backend)
    taken = await claim(backend)
    assert await backend.checkpoint(taken, b"{}", [b"1"])
    await backend.release_worker("worker-1", DIED)
    for _ in range(POLICY.max_attempts):  # then no progress at all
        await claim(backend)
        await backend.release_worker("worker-1", DIED)
    ended = await backend.get(ALICE, record.response_id)
    assert (ended.status, ended.attempts) == (Status.FAILED, 1 + POLICY.max_attempts)
    assert ended.error == f"{DIED}; giving up after {1 + POLICY.max_attempts} attempts"
