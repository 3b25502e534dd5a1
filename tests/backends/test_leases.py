"""A worker's side of a lease: ``heartbeat``, ``report_progress``, ``complete`` and ``fail`` only
while it holds the lease, ``release_worker`` for a worker seen to die, and ``reap_leases`` for
leases that ran out. Leases that must run out here are real and short (Redis judges them by
its own clock, which no test can move); no test asserts how long anything took."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from inferq.backends import Backend
from inferq.domain.status import Status
from inferq.errors import Conflict
from tests.backends.helpers import (
    ALICE,
    ECHO,
    OTHER,
    POLICY,
    RETENTION_S,
    Opener,
    claim,
    eventually,
    short_leases,
    submit,
    worker,
)

pytestmark = pytest.mark.anyio

MAX_ATTEMPTS = POLICY.max_attempts
LOST = "its worker was lost {} times (no heartbeat within the lease); giving up"


async def test_complete_stores_the_output_and_ends_the_request(backend: Backend) -> None:
    record = await submit(backend)
    taken = await claim(backend)
    assert await backend.complete(taken, b'{"out":1}')
    done = await backend.get(ALICE, record.response_id)
    assert (done.status, done.error_type, done.error) == (Status.COMPLETED, None, None)
    assert done.completed_at is not None
    assert done.expires_at == pytest.approx(done.completed_at + RETENTION_S)
    assert await backend.get_output(ALICE, record.response_id) == b'{"out":1}'


async def test_fail_ends_the_request_with_its_reason(backend: Backend) -> None:
    record = await submit(backend)
    assert await backend.fail(await claim(backend), "invalid_input", "audio: not a WAV file")
    failed = await backend.get(ALICE, record.response_id)
    assert (failed.status, failed.error_type, failed.error) == (
        Status.FAILED,
        "invalid_input",
        "audio: not a WAV file",
    )
    assert failed.completed_at is not None
    assert failed.expires_at == pytest.approx(failed.completed_at + RETENTION_S)
    with pytest.raises(Conflict, match="no response"):
        await backend.get_output(ALICE, record.response_id)


async def test_without_the_lease_complete_and_fail_store_nothing(backend: Backend) -> None:
    record = await submit(backend)
    taken = await claim(backend)
    forged = dataclasses.replace(taken, lease_id=taken.lease_id[:-1] + "x")
    assert not await backend.complete(forged, b'{"forged":1}')
    assert not await backend.fail(forged, "inference_failed", "forged")
    assert not await backend.report_progress(forged, 0.5)
    running = await backend.get(ALICE, record.response_id)
    assert (running.status, running.progress) == (Status.RUNNING, None)
    assert await backend.complete(taken, b'{"real":1}')
    assert not await backend.fail(taken, "inference_failed", "after the end")
    assert await backend.get_output(ALICE, record.response_id) == b'{"real":1}'
    assert (await backend.get(ALICE, record.response_id)).status is Status.COMPLETED


async def test_progress_is_stored_between_0_and_1_and_a_new_claim_starts_from_none(backend: Backend) -> None:
    record = await submit(backend)
    taken = await claim(backend, worker_id="first")
    for reported, stored in ((0.25, 0.25), (1.7, 1.0), (-3.0, 0.0), (0.5, 0.5)):
        assert await backend.report_progress(taken, reported)
        assert (await backend.get(ALICE, record.response_id)).progress == pytest.approx(stored)
    await backend.release_worker("first", "its worker exited")
    again = await claim(backend, worker_id="second")
    assert (await backend.get(ALICE, record.response_id)).progress is None
    assert not await backend.report_progress(taken, 0.9)  # the first lease is gone
    assert await backend.report_progress(again, 0.1)


async def test_heartbeat_returns_no_lost_lease_while_they_are_held(backend: Backend) -> None:
    await submit(backend), await submit(backend)
    first, second = await claim(backend), await claim(backend)
    assert await backend.heartbeat(worker(), [first.lease_id, second.lease_id]) == set()
    assert await backend.heartbeat(worker(), []) == set()


async def test_heartbeat_keeps_a_short_lease_alive(open_store: Opener) -> None:
    """Heartbeats every fifth of the lease for one and a half leases: the lease never runs out."""
    backend = await open_store(short_leases(1.0))
    record = await submit(backend)
    taken = await claim(backend)
    for _ in range(8):
        await asyncio.sleep(0.2)
        assert await backend.heartbeat(worker(), [taken.lease_id]) == set()
        assert await backend.reap_leases() == 0
    assert (await backend.get(ALICE, record.response_id)).status is Status.RUNNING
    assert await backend.complete(taken, b"{}")


async def test_a_lease_that_ran_out_goes_back_to_the_queue_then_fails_after_max_attempts(
    open_store: Opener,
) -> None:
    backend = await open_store(short_leases(0.3))
    record = await submit(backend)
    first = await claim(backend)
    assert await backend.reap_leases() == 0
    assert await eventually(backend.reap_leases, "the first lease to run out") == 1
    requeued = await backend.get(ALICE, record.response_id)
    assert (requeued.status, requeued.attempts) == (Status.PENDING, 1)
    assert await backend.heartbeat(worker(), [first.lease_id]) == {first.lease_id}
    assert not await backend.complete(first, b'{"late":1}')
    second = await claim(backend)
    assert second.record.attempts == MAX_ATTEMPTS
    assert await eventually(backend.reap_leases, "the second lease to run out") == 1
    failed = await backend.get(ALICE, record.response_id)
    assert (failed.status, failed.error_type) == (Status.FAILED, "inference_failed")
    assert failed.error == LOST.format(MAX_ATTEMPTS)
    assert failed.completed_at is not None
    assert failed.expires_at == pytest.approx(failed.completed_at + RETENTION_S)
    assert not await backend.complete(second, b'{"late":2}')
    assert await backend.claim(ECHO, "w") == []


async def test_a_lease_taken_over_by_another_worker_is_lost_to_the_first(open_store: Opener) -> None:
    backend = await open_store(short_leases(0.3))
    record = await submit(backend)
    first = await claim(backend, worker_id="slow")
    await eventually(backend.reap_leases, "the lease to run out")
    second = await claim(backend, worker_id="fresh")
    assert second.record.response_id == record.response_id and second.lease_id != first.lease_id
    assert await backend.heartbeat(worker("slow"), [first.lease_id]) == {first.lease_id}
    assert await backend.heartbeat(worker("fresh"), [second.lease_id]) == set()
    assert not await backend.complete(first, b'{"slow":1}')
    assert await backend.complete(second, b'{"fresh":1}')
    assert await backend.get_output(ALICE, record.response_id) == b'{"fresh":1}'


async def test_release_worker_requeues_what_it_held_and_counts_it(backend: Backend) -> None:
    made = [await submit(backend, endpoint=endpoint) for endpoint in (ECHO, ECHO, OTHER, ECHO)]
    await claim(backend, ECHO, "doomed"), await claim(backend, OTHER, "doomed")
    survivor = await claim(backend, ECHO, "survivor")
    assert await backend.release_worker("doomed", "its worker exited") == 2
    states = [await backend.get(ALICE, r.response_id) for r in made]
    assert [(s.status, s.attempts) for s in states] == [
        (Status.PENDING, 1),
        (Status.RUNNING, 1),
        (Status.PENDING, 1),
        (Status.PENDING, 0),
    ]
    assert await backend.heartbeat(worker("survivor"), [survivor.lease_id]) == set()
    assert await backend.release_worker("doomed", "again") == 0
    assert await backend.release_worker("never-seen", "exited") == 0


async def test_release_worker_fails_a_request_past_max_attempts_naming_the_reason(backend: Backend) -> None:
    record = await submit(backend)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        taken = await claim(backend, worker_id=f"w{attempt}")
        assert taken.record.attempts == attempt
        assert await backend.release_worker(f"w{attempt}", "its worker was killed by signal 9") == 1
    failed = await backend.get(ALICE, record.response_id)
    assert (failed.status, failed.error_type) == (Status.FAILED, "inference_failed")
    assert failed.error == f"its worker was killed by signal 9; giving up after {MAX_ATTEMPTS} attempts"
    assert await backend.claim(ECHO, "w") == []


async def test_release_worker_forgets_the_worker(backend: Backend) -> None:
    await backend.heartbeat(worker("doomed"), [])
    assert (await backend.endpoint_stats(ECHO)).workers == 1
    await backend.release_worker("doomed", "its worker exited")
    stats = await backend.endpoint_stats(ECHO)
    assert (stats.workers, stats.ready_workers) == (0, 0)
    assert not await backend.endpoint_ready(ECHO)
