"""A request's history: each run with its worker, start, end and how it ended; the links
between a request and its retry; and a request answered from a completed twin
(``Submission.reuse``), never from another tenant's."""

from __future__ import annotations

import pytest

from inferq.backends import Backend
from inferq.domain import lifecycle
from inferq.domain.records import RequestRecord, Submission
from inferq.domain.status import Status
from tests.backends.helpers import (
    ALICE,
    BOB,
    ECHO,
    RETENTION_S,
    Opener,
    claim,
    eventually,
    short_leases,
    submit,
)

pytestmark = pytest.mark.anyio


def runs(record: RequestRecord) -> list[tuple[str, str | None]]:
    return [(run.worker, run.outcome) for run in record.history]


async def test_each_run_keeps_its_worker_and_how_it_ended(backend: Backend) -> None:
    record = await submit(backend)
    assert (await backend.get(ALICE, record.response_id)).history == ()
    await claim(backend, worker_id="first")
    running = await backend.get(ALICE, record.response_id)
    [only] = running.history
    assert (only.worker, only.ended_at, only.outcome) == ("first", None, None)
    assert only.started_at == pytest.approx(running.started_at, abs=1e-3)
    await backend.release_worker("first", "its worker exited")
    second = await claim(backend, worker_id="second")
    assert await backend.complete(second, b"{}")
    done = await backend.get(ALICE, record.response_id)
    assert runs(done) == [("first", "worker_lost"), ("second", "completed")]
    lost, completed = done.history
    assert lost.started_at <= (lost.ended_at or 0) <= completed.started_at <= (completed.ended_at or 0)
    assert completed.ended_at == pytest.approx(done.completed_at, abs=1e-3)


async def test_a_run_ends_raised_timed_out_or_cancelled(backend: Backend) -> None:
    raised, timed_out, cancelled, waiting = [await submit(backend) for _ in range(4)]
    assert await backend.fail(await claim(backend), "inference_failed", "ValueError: no")
    assert await backend.fail(await claim(backend), lifecycle.TIMEOUT_ERROR_TYPE, "timed out after 1 s")
    await claim(backend)
    await backend.cancel(ALICE, cancelled.response_id)
    await backend.cancel(ALICE, waiting.response_id)
    outcomes = [
        runs(await backend.get(ALICE, r.response_id)) for r in (raised, timed_out, cancelled, waiting)
    ]
    worker = outcomes[0][0][0]
    assert outcomes == [[(worker, "raised")], [(worker, "timed_out")], [(worker, "cancelled")], []]


async def test_a_deadline_ends_the_run_cancelled(backend: Backend) -> None:
    record, created = await backend.enqueue(Submission(ALICE, ECHO, b"{}", cancel_after_s=0.0))
    assert created
    await claim(backend)
    assert await eventually(backend.miss_deadlines, "the deadline to pass") == 1
    missed = await backend.get(ALICE, record.response_id)
    assert (missed.error_type, runs(missed)[0][1]) == (lifecycle.DEADLINE_ERROR_TYPE, "cancelled")


async def test_a_lease_that_ran_out_ends_its_run_with_the_worker_lost(open_store: Opener) -> None:
    backend = await open_store(short_leases(0.3))
    record = await submit(backend)
    await claim(backend, worker_id="slow")

    async def taken_over() -> bool:
        if await backend.claim(ECHO, "fresh"):  # a claim may take the lease over itself
            return True
        await backend.reap_leases()
        return False

    await eventually(taken_over, "the lease to run out and be taken over")
    history = (await backend.get(ALICE, record.response_id)).history
    assert [(run.worker, run.outcome) for run in history] == [("slow", "worker_lost"), ("fresh", None)]


async def test_a_retry_and_its_original_name_each_other(backend: Backend) -> None:
    original = await submit(backend)
    assert await backend.fail(await claim(backend), "inference_failed", "ValueError: no")
    retry, _ = await backend.enqueue(Submission(ALICE, ECHO, b'{"n":1}', retry_of=original.response_id))
    assert (retry.retry_of, retry.status) == (original.response_id, Status.PENDING)
    assert (await backend.get(ALICE, original.response_id)).retried_by == retry.response_id
    again, _ = await backend.enqueue(Submission(ALICE, ECHO, b'{"n":1}', retry_of=original.response_id))
    assert (await backend.get(ALICE, original.response_id)).retried_by == again.response_id


async def test_a_retry_never_marks_another_tenants_request(backend: Backend) -> None:
    original = await submit(backend)
    await backend.enqueue(Submission(BOB, ECHO, b"{}", retry_of=original.response_id))
    assert (await backend.get(ALICE, original.response_id)).retried_by is None


async def completed(backend: Backend, key: str, tenant: str = ALICE) -> RequestRecord:
    record, _ = await backend.enqueue(Submission(tenant, ECHO, b'{"n":1}', reuse_key=key))
    assert await backend.complete(await claim(backend), b'{"out":1}')
    return record


async def reusing(backend: Backend, key: str, tenant: str = ALICE, *, reuse: bool = True) -> RequestRecord:
    record, created = await backend.enqueue(Submission(tenant, ECHO, b'{"n":1}', reuse=reuse, reuse_key=key))
    assert created
    return record


async def test_a_request_that_asks_to_reuse_is_answered_from_its_completed_twin(backend: Backend) -> None:
    twin = await completed(backend, "k1")
    reused = await reusing(backend, "k1")
    assert (reused.status, reused.reused_from, reused.history) == (Status.COMPLETED, twin.response_id, ())
    assert reused.response_id != twin.response_id
    assert reused.completed_at is not None
    assert reused.expires_at == pytest.approx(reused.completed_at + RETENTION_S)
    assert await backend.get_output(ALICE, reused.response_id) == b'{"out":1}'
    assert await backend.claim(ECHO, "w") == []
    assert (await backend.endpoint_totals(ECHO)).finished["completed"] == 2


async def test_reuse_needs_the_ask_the_same_key_and_a_completed_twin_of_the_tenant(backend: Backend) -> None:
    await completed(backend, "k1")
    await backend.enqueue(Submission(ALICE, ECHO, b"{}", reuse_key="k2"))
    assert await backend.fail(await claim(backend), "inference_failed", "ValueError: no")
    waiting = [
        await reusing(backend, "k1", reuse=False),
        await reusing(backend, "k1", BOB),
        await reusing(backend, "k2"),
        await reusing(backend, "k3"),
    ]
    assert [record.status for record in waiting] == [Status.PENDING] * 4


async def test_a_deleted_or_expired_twin_is_not_reused(backend: Backend) -> None:
    twin = await completed(backend, "k1")
    await backend.delete(ALICE, twin.response_id)
    assert (await reusing(backend, "k1")).status is Status.PENDING
    assert await backend.complete(await claim(backend), b'{"out":2}')
    assert (await reusing(backend, "k1")).status is Status.COMPLETED
    await backend.expire(now=twin.created_at + 10 * RETENTION_S)
    assert (await reusing(backend, "k1")).status is Status.PENDING
