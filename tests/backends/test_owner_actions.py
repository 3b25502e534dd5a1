"""What a request's owner does besides reading: ``cancel``, ``delete``, ``count_active``, and
``wait`` for it to end."""

from __future__ import annotations

import asyncio

import pytest

from inferq.backends import Backend
from inferq.domain.status import Status
from inferq.errors import Conflict, Expired
from tests.backends.helpers import (
    ALICE,
    BOB,
    ECHO,
    OTHER,
    RETENTION_S,
    Opener,
    claim,
    completed,
    submit,
    worker,
)

pytestmark = pytest.mark.anyio


async def test_cancel_ends_a_pending_request_and_takes_it_out_of_the_queue(backend: Backend) -> None:
    record = await submit(backend)
    cancelled = await backend.cancel(ALICE, record.response_id)
    assert cancelled.status is Status.CANCELLED
    assert cancelled.completed_at is not None and cancelled.completed_at >= record.created_at
    assert cancelled.expires_at == pytest.approx(cancelled.completed_at + RETENTION_S)
    assert (await backend.get(ALICE, record.response_id)).status is Status.CANCELLED
    assert await backend.claim(ECHO, "w") == []


async def test_cancel_of_a_running_request_takes_its_lease_and_discards_its_output(backend: Backend) -> None:
    record = await submit(backend)
    taken = await claim(backend)
    assert (await backend.cancel(ALICE, record.response_id)).status is Status.CANCELLED
    assert await backend.heartbeat(worker(), [taken.lease_id]) == {taken.lease_id}
    assert not await backend.report_progress(taken, 0.5)
    assert not await backend.complete(taken, b'{"late":1}')
    assert not await backend.fail(taken, "inference_failed", "late")
    after = await backend.get(ALICE, record.response_id)
    assert (after.status, after.error) == (Status.CANCELLED, None)
    with pytest.raises(Conflict):
        await backend.get_output(ALICE, record.response_id)


async def test_cancel_returns_a_finished_request_unchanged(backend: Backend) -> None:
    done = await completed(backend, output=b'{"kept":1}')
    failed = await submit(backend)
    await backend.fail(await claim(backend), "inference_failed", "boom")
    failed = await backend.get(ALICE, failed.response_id)
    cancelled = await submit(backend)
    cancelled = await backend.cancel(ALICE, cancelled.response_id)
    for before in (done, failed, cancelled):
        assert await backend.cancel(ALICE, before.response_id) == before
        assert await backend.get(ALICE, before.response_id) == before
    assert await backend.get_output(ALICE, done.response_id) == b'{"kept":1}'


async def test_delete_is_a_conflict_while_the_request_is_pending_or_running(backend: Backend) -> None:
    record = await submit(backend)
    for status in ("pending", "running"):
        with pytest.raises(Conflict, match="cancel it") as refused:
            await backend.delete(ALICE, record.response_id)
        assert refused.value.details["status"] == status
        assert (await backend.get(ALICE, record.response_id)).status.value == status
        if status == "pending":
            await claim(backend)


async def test_delete_removes_a_finished_request_for_good(backend: Backend) -> None:
    done = await completed(backend)
    await backend.delete(ALICE, done.response_id)
    for call in (backend.get, backend.get_output, backend.delete, backend.cancel):
        with pytest.raises(Expired):
            await call(ALICE, done.response_id)
    assert await backend.list_requests(ALICE) == []
    assert await backend.get_outputs(ALICE, [done.response_id]) == {}


async def test_count_active_counts_pending_and_running_on_every_endpoint_up_to_the_limit(
    backend: Backend,
) -> None:
    await completed(backend)
    for endpoint in (ECHO, ECHO, OTHER):
        await submit(backend, ALICE, endpoint)
    await claim(backend, OTHER)
    await submit(backend, BOB)
    cancelled = await submit(backend)
    await backend.cancel(ALICE, cancelled.response_id)
    assert await backend.count_active(ALICE, 100) == 3
    assert await backend.count_active(ALICE, 2) == 2
    assert await backend.count_active(BOB, 100) == 1
    assert await backend.count_active("tok_nobody", 100) == 0


async def test_wait_returns_at_its_timeout_with_the_state_then(backend: Backend) -> None:
    record = await submit(backend)
    assert (await backend.wait(ALICE, record.response_id, 0.2)).status is Status.PENDING
    await claim(backend)
    assert (await backend.wait(ALICE, record.response_id, 0)).status is Status.RUNNING


async def test_wait_returns_a_finished_request_at_once(backend: Backend) -> None:
    done = await completed(backend)
    assert await asyncio.wait_for(backend.wait(ALICE, done.response_id, 3600), 10) == done


async def test_wait_wakes_when_another_process_ends_the_request(open_store: Opener) -> None:
    """The wait would last an hour; only the notification of the change can end it within
    the ten seconds given (a bound, not a measurement)."""
    gateway, worker_process = await open_store(), await open_store()
    record = await submit(gateway)
    waiting = asyncio.create_task(gateway.wait(ALICE, record.response_id, 3600))
    await asyncio.sleep(0.2)
    taken = await claim(worker_process)
    await asyncio.sleep(0.2)
    assert not waiting.done(), "wait returned before the request ended"
    await worker_process.complete(taken, b"{}")
    ended = await asyncio.wait_for(waiting, 10)
    assert ended.status is Status.COMPLETED


async def test_wait_wakes_on_a_cancel(open_store: Opener) -> None:
    gateway, other = await open_store(), await open_store()
    record = await submit(gateway)
    waiting = asyncio.create_task(gateway.wait(ALICE, record.response_id, 3600))
    await asyncio.sleep(0.2)
    await other.cancel(ALICE, record.response_id)
    assert (await asyncio.wait_for(waiting, 10)).status is Status.CANCELLED
