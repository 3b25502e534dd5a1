"""``expire``: the terminal requests whose ``expires_at`` passed are deleted, inputs and outputs
included, and never a pending or running one however old. The moment to judge by is an
argument, so retention is tested by passing a later one, never by waiting; the store's bytes
are read behind the backend's back to show that nothing of a deleted request stays."""

from __future__ import annotations

import secrets

import pytest

from inferq.backends import Backend
from inferq.domain.status import Status
from inferq.errors import Expired
from tests.backends.helpers import ALICE, ECHO, RETENTION_S, claim, submit
from tests.backends.stores import Store
from tests.store import stored_bytes

pytestmark = pytest.mark.anyio


async def _one_of_each_status(backend: Backend, marker: str) -> dict[Status, str]:
    """A request in each status, each with ``marker`` in its inputs (and outputs, when completed)."""

    async def submitted(status: Status) -> str:
        inputs = f'{{"secret":"{marker}-{status.value}-in"}}'.encode()
        return (await submit(backend, inputs=inputs)).response_id

    claimed = (Status.COMPLETED, Status.FAILED, Status.RUNNING)  # in the order they are claimed
    ids = {status: await submitted(status) for status in (*claimed, Status.PENDING, Status.CANCELLED)}
    for status in claimed:
        taken = await claim(backend)
        assert taken.record.response_id == ids[status]
        if status is Status.COMPLETED:
            await backend.complete(taken, f'{{"secret":"{marker}-out"}}'.encode())
        elif status is Status.FAILED:
            await backend.fail(taken, "inference_failed", "boom")
    await backend.cancel(ALICE, ids[Status.CANCELLED])
    return ids


async def test_expire_deletes_ended_requests_past_their_expiry_and_never_active_ones(
    backend: Backend, store: Store
) -> None:
    marker = f"m{secrets.token_hex(8)}"
    ids = await _one_of_each_status(backend, marker)
    ended = {s: (await backend.get(ALICE, ids[s])).expires_at for s in Status if s.is_terminal}
    assert marker.encode() in stored_bytes(store.url)  # the check can see what the store holds
    assert await backend.expire(min(ended.values()) - 1) == 0
    far_future = max(ended.values()) + 100 * RETENTION_S
    assert await backend.expire(far_future) == 3
    for status in ended:
        with pytest.raises(Expired):
            await backend.get(ALICE, ids[status])
    for status in (Status.PENDING, Status.RUNNING):
        assert (await backend.get(ALICE, ids[status])).status is status
    assert await backend.expire(far_future) == 0
    left = stored_bytes(store.url)
    assert f"{marker}-pending-in".encode() in left and f"{marker}-running-in".encode() in left
    for gone in ("completed-in", "failed-in", "cancelled-in", "out"):
        assert f"{marker}-{gone}".encode() not in left, gone
    assert await backend.get_outputs(ALICE, [ids[Status.COMPLETED]]) == {}
    assert {r.response_id for r in await backend.list_requests(ALICE)} == {
        ids[Status.PENDING],
        ids[Status.RUNNING],
    }


async def test_expire_goes_by_each_request_s_own_expiry_in_batches_of_the_limit(backend: Backend) -> None:
    records = []
    for _ in range(5):
        record = await submit(backend)
        records.append(await backend.cancel(ALICE, record.response_id))
    moments = sorted(r.expires_at for r in records)
    assert await backend.expire(moments[1]) == 2
    assert await backend.expire(moments[-1], limit=2) == 2
    assert await backend.expire(moments[-1], limit=2) == 1
    assert await backend.expire(moments[-1], limit=2) == 0
    assert await backend.list_requests(ALICE) == []


async def test_the_store_takes_writes_right_after_a_sweep(backend: Backend) -> None:
    """A sweep pass that deleted something ends with a checkpoint (SQLite): whatever it leaves
    behind must not stop the writes that follow, the next pass included."""
    for n in range(50):
        record = await submit(backend)
        ended = await backend.cancel(ALICE, record.response_id)
        assert await backend.expire(ended.expires_at) == 1
        assert await backend.expire(ended.expires_at) == 0
        await submit(backend, inputs=b'{"after":%d}' % n)
    assert len(await backend.list_requests(ALICE, status=Status.PENDING)) == 50


async def test_delete_leaves_nothing_of_the_request_in_the_store(backend: Backend, store: Store) -> None:
    marker = f"m{secrets.token_hex(8)}"
    record = await submit(backend, inputs=f'{{"secret":"{marker}-in"}}'.encode())
    await backend.complete(await claim(backend), f'{{"secret":"{marker}-out"}}'.encode())
    kept = await submit(backend, inputs=f'{{"secret":"{marker}-kept"}}'.encode())
    await backend.delete(ALICE, record.response_id)
    left = stored_bytes(store.url)
    assert f"{marker}-kept".encode() in left
    assert f"{marker}-in".encode() not in left and f"{marker}-out".encode() not in left
    assert (await backend.get(ALICE, kept.response_id)).endpoint == ECHO
