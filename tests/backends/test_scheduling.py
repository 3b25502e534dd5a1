"""The order of :mod:`inferq.domain.scheduling`, carried out by every store: tokens share an
endpoint by cost, a token's own requests go by priority and then shortest first with
ageing; deadlines cancel what has not ended; a request's own retention is honoured."""

from __future__ import annotations

import asyncio

import pytest

from inferq.backends import Backend
from inferq.domain import lifecycle
from inferq.domain.records import RequestRecord, Submission
from inferq.domain.scheduling import PRIORITIES
from inferq.domain.status import Status
from tests.backends.helpers import ECHO, RETENTION_S, WORKER, claim

pytestmark = pytest.mark.anyio

T1, T2 = "tok_1", "tok_2"


async def queue(
    backend: Backend,
    tenant: str,
    cost: float = 1.0,
    priority: str = "normal",
    pace: float = 1.0,
    **options: float,
) -> RequestRecord:
    sub = Submission(tenant, ECHO, b"{}", priority=PRIORITIES[priority], cost=cost, pace=pace, **options)  # type: ignore[arg-type]
    record, created = await backend.enqueue(sub)
    assert created
    return record


async def claims_in_order(backend: Backend, expected: list[RequestRecord]) -> None:
    """Claim everything; before each claim, every pending request's position is its place
    in the order still to come."""
    while expected:
        places = await backend.positions([await backend.get(r.tenant, r.response_id) for r in expected])
        assert [places[r.response_id].position for r in expected] == list(range(len(expected)))
        assert (await claim(backend)).record.response_id == expected.pop(0).response_id
    assert await backend.claim(ECHO, WORKER) == []


async def test_tokens_share_the_endpoint_by_cost_not_by_count(backend: Backend) -> None:
    """T1's requests cost 10, T2's 1: after T1's first, T2's five fit in before T1's second."""
    long = [await queue(backend, T1, cost=10) for _ in range(3)]
    short = [await queue(backend, T2, cost=1) for _ in range(5)]
    await claims_in_order(backend, [long[0], *short, long[1], long[2]])


async def test_a_token_coming_back_joins_at_the_endpoint_s_clock_not_its_own(backend: Backend) -> None:
    """Time spent with nothing queued is not banked: T1, new, joins where the endpoint's
    clock is (T2 has been served 3), not at 0, so it alternates with T2 instead of going
    three times in a row."""
    t2 = [await queue(backend, T2) for _ in range(5)]
    for record in t2[:3]:
        assert (await claim(backend)).record.response_id == record.response_id
    t1 = [await queue(backend, T1) for _ in range(3)]
    await claims_in_order(backend, [t1[0], t2[3], t1[1], t2[4], t1[2]])


async def test_a_token_s_own_requests_go_by_priority(backend: Backend) -> None:
    low, normal, high = [await queue(backend, T1, priority=p) for p in ("low", "normal", "high")]
    await claims_in_order(backend, [high, normal, low])


async def test_a_token_s_short_work_goes_before_its_long_work(backend: Backend) -> None:
    long = await queue(backend, T1, cost=30)
    short = [await queue(backend, T1, cost=1) for _ in range(3)]
    await claims_in_order(backend, [*short, long])


async def test_long_work_is_passed_only_by_work_submitted_before_it_would_have_ended(
    backend: Backend,
) -> None:
    """Ageing: a request's key is its submit time plus its estimated run (cost x pace), so
    shorter work submitted after that moment goes after it."""
    long = await queue(backend, T1, cost=1, pace=0.05)  # key: now + 0.05 s
    await asyncio.sleep(0.2)
    later = await queue(backend, T1, cost=0.001, pace=0.05)
    await claims_in_order(backend, [long, later])


async def test_missed_deadlines_cancel_pending_and_running_requests(backend: Backend) -> None:
    running = await queue(backend, T1, cancel_after_s=0.05)
    held = await claim(backend)
    pending = await queue(backend, T1, cancel_after_s=0.05)
    spared = await queue(backend, T1, cancel_after_s=3600)
    assert await backend.miss_deadlines() == 0  # none passed yet
    await asyncio.sleep(0.1)
    assert await backend.miss_deadlines() == 2
    for record in (running, pending):
        missed = await backend.get(T1, record.response_id)
        assert missed.status is Status.CANCELLED
        assert (missed.error_type, missed.error) == (lifecycle.DEADLINE_ERROR_TYPE, lifecycle.DEADLINE_ERROR)
        assert missed.deadline_at == pytest.approx(record.created_at + 0.05)
    assert (await backend.get(T1, pending.response_id)).started_at is None
    assert await backend.leases_lost(WORKER, [held.lease_id]) == {held.lease_id}  # its worker stops
    assert (await backend.get(T1, spared.response_id)).status is Status.PENDING
    assert (await claim(backend)).record.response_id == spared.response_id
    assert await backend.miss_deadlines() == 0


async def test_a_request_s_own_retention_replaces_the_server_s(backend: Backend) -> None:
    own = await queue(backend, T1, retention_s=10)
    default = await queue(backend, T1)
    assert own.expires_at == pytest.approx(own.created_at + 10)
    for _ in range(2):
        await backend.complete(await claim(backend), b"{}")
    ended = await backend.get(T1, own.response_id)
    assert ended.completed_at is not None
    assert ended.expires_at == pytest.approx(ended.completed_at + 10)
    assert await backend.expire(ended.completed_at + 11) == 1
    assert [r.response_id for r in await backend.list_requests(T1)] == [default.response_id]
    assert (await backend.get(T1, default.response_id)).expires_at > ended.completed_at + RETENTION_S - 1


async def test_the_place_of_a_request_not_queued_yet(backend: Backend) -> None:
    """What a deadline is checked against: a new request of T2 would go after T1's first
    (it joined first) and before the rest; one of T1 as long as T1's after all of them,
    a shorter one or a high priority one before them."""
    for _ in range(3):
        await queue(backend, T1, cost=2)
    newcomer = await backend.place_of_new(ECHO, T2, PRIORITIES["normal"], 1.0, 1.0)
    assert (newcomer.position, newcomer.cost_ahead) == (1, 2.0)
    own = await backend.place_of_new(ECHO, T1, PRIORITIES["normal"], 2.0, 1.0)
    assert (own.position, own.cost_ahead) == (3, 6.0)
    shorter = await backend.place_of_new(ECHO, T1, PRIORITIES["normal"], 1.0, 1.0)
    assert shorter.position == 0
    high = await backend.place_of_new(ECHO, T1, PRIORITIES["high"], 1.0, 1.0)
    assert high.position == 0


async def test_urgent_requests_go_before_every_share_and_are_not_counted_in_them(backend: Backend) -> None:
    """After requeued work, before any token's share, by their order key (shorter first);
    their token's share is as if they were not there."""
    t1 = [await queue(backend, T1) for _ in range(2)]
    t2 = await queue(backend, T2)
    long = await queue(backend, T2, cost=3, priority="urgent")
    short = [await queue(backend, tenant, priority="urgent") for tenant in (T1, T2)]
    new = await backend.place_of_new(ECHO, T1, PRIORITIES["urgent"], 1.0, 1.0)
    assert (new.position, new.cost_ahead) == (2, 2.0)  # after the short urgent ones, before the long
    behind = await backend.place_of_new(ECHO, T2, PRIORITIES["normal"], 1.0, 1.0)
    assert (behind.position, behind.cost_ahead) == (6, 8.0)
    await claims_in_order(backend, [*short, long, t1[0], t2, t1[1]])


async def test_a_cancelled_urgent_request_leaves_the_queue(backend: Backend) -> None:
    urgent = await queue(backend, T1, priority="urgent")
    normal = await queue(backend, T1)
    await backend.cancel(T1, urgent.response_id)
    await claims_in_order(backend, [normal])
