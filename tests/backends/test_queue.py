"""``claim``: one lease per request, in fair order across tenants (the tenant served longest ago
first, newcomers at once, each tenant's own requests oldest first), with ``queue_position``
counting in that same order, and attempts counted."""

from __future__ import annotations

import asyncio

import pytest

from inferq.backends import Backend
from inferq.domain.records import RequestRecord
from inferq.domain.status import Status
from tests.backends.helpers import (
    ALICE,
    BOB,
    ECHO,
    OTHER,
    Opener,
    claim,
    eventually,
    short_leases,
    submit,
)

pytestmark = pytest.mark.anyio

#: Tenant names sort in the order they first queue, so that a tie in a store's clock (two
#: turns served within one millisecond) cannot change the order under test.
T1, T2, T3 = "tok_1", "tok_2", "tok_3"


async def test_claim_finds_nothing_in_an_empty_or_unknown_queue(backend: Backend) -> None:
    assert await backend.claim(ECHO, "w") == []
    await submit(backend, endpoint=OTHER)
    assert await backend.claim(ECHO, "w") == []
    assert await backend.claim("nowhere", "w") == []


async def test_claim_leases_a_pending_request_with_its_inputs_counting_an_attempt(backend: Backend) -> None:
    record = await submit(backend, inputs=b'{"x":[1,2]}')
    taken = await claim(backend)
    assert taken.record.response_id == record.response_id
    assert (taken.record.status, taken.record.attempts) == (Status.RUNNING, 1)
    assert taken.record.started_at is not None
    assert taken.inputs == b'{"x":[1,2]}'
    assert taken.lease_id
    assert await backend.claim(ECHO, "w") == []


async def test_a_tenant_s_requests_are_claimed_oldest_first(backend: Backend) -> None:
    made = [await submit(backend, inputs=b'{"n":%d}' % n) for n in range(4)]
    assert [(await claim(backend)).record.response_id for _ in made] == [r.response_id for r in made]


async def test_claims_from_many_processes_at_once_never_lease_one_request_twice(open_store: Opener) -> None:
    workers = [await open_store() for _ in range(3)]
    made = [await submit(workers[0], inputs=b'{"n":%d}' % n) for n in range(9)]
    claims = await asyncio.gather(
        *(workers[n % 3].claim(ECHO, f"w{n}", 1 + n % 3) for n in range(12)),
    )
    taken = [c.record.response_id for each in claims for c in each]
    assert sorted(taken) == sorted(r.response_id for r in made)
    assert len({c.lease_id for each in claims for c in each}) == 9


async def _positions(backend: Backend, pending: list[RequestRecord]) -> list[int | None]:
    return [(await backend.get(r.tenant, r.response_id)).queue_position for r in pending]


async def _claimed_in_the_order_of_their_positions(backend: Backend, pending: list[RequestRecord]) -> None:
    """Every pending request's position is the number of claims that come before its own."""
    positions = {r.response_id: (await backend.get(r.tenant, r.response_id)).queue_position for r in pending}
    claimed = [(await claim(backend)).record.response_id for _ in pending]
    assert positions == {response_id: place for place, response_id in enumerate(claimed)}


async def test_tenants_take_turns_and_queue_positions_count_in_that_order(backend: Backend) -> None:
    """T1 queues three, then T2 two, then T3 one: claims go T1 T2 T3 T1 T2 T1, and before each
    claim every pending request's position is its place in the order still to come."""
    a1, a2, a3 = [await submit(backend, T1, inputs=b'{"a":%d}' % n) for n in range(3)]
    b1, b2 = [await submit(backend, T2, inputs=b'{"b":%d}' % n) for n in range(2)]
    c1 = await submit(backend, T3)
    order = [a1, b1, c1, a2, b2, a3]
    while order:
        assert await _positions(backend, order) == list(range(len(order)))
        taken = await claim(backend)
        assert taken.record.response_id == order.pop(0).response_id
    assert await backend.claim(ECHO, "w") == []


async def test_a_batch_of_claims_takes_them_in_the_same_fair_order(backend: Backend) -> None:
    a1, a2, a3 = [await submit(backend, T1, inputs=b'{"a":%d}' % n) for n in range(3)]
    b1, b2 = [await submit(backend, T2, inputs=b'{"b":%d}' % n) for n in range(2)]
    c1 = await submit(backend, T3)
    first = await backend.claim(ECHO, "w", 4)
    rest = await backend.claim(ECHO, "w", 10)
    assert [c.record.response_id for c in first] == [r.response_id for r in (a1, b1, c1, a2)]
    # T1 and T2 were served at the same moment: either may come first
    assert sorted(c.record.response_id for c in rest) == sorted(r.response_id for r in (a3, b2))
    assert len({c.lease_id for c in first + rest}) == 6
    assert all(c.record.attempts == 1 for c in first + rest)
    assert await backend.claim(ECHO, "w", 3) == []


async def test_a_newcomer_is_served_before_a_tenant_served_already(backend: Backend) -> None:
    a1, a2 = await submit(backend, T1), await submit(backend, T1)
    assert (await claim(backend)).record.response_id == a1.response_id
    b1 = await submit(backend, T2)
    assert await _positions(backend, [b1, a2]) == [0, 1]
    assert (await claim(backend)).record.response_id == b1.response_id
    assert (await claim(backend)).record.response_id == a2.response_id


async def test_each_endpoint_keeps_its_own_turns(backend: Backend) -> None:
    a_echo, a_other = await submit(backend, T1, ECHO), await submit(backend, T1, OTHER)
    b_echo = await submit(backend, T2, ECHO)
    assert (await claim(backend, ECHO)).record.response_id == a_echo.response_id
    assert (await backend.get(T1, a_other.response_id)).queue_position == 0
    assert (await claim(backend, OTHER)).record.response_id == a_other.response_id
    assert (await claim(backend, ECHO)).record.response_id == b_echo.response_id


async def test_a_cancelled_request_leaves_its_tenant_s_turn(backend: Backend) -> None:
    a1 = await submit(backend, ALICE)
    b1 = await submit(backend, BOB)
    await backend.cancel(ALICE, a1.response_id)
    assert (await backend.get(BOB, b1.response_id)).queue_position == 0
    assert (await claim(backend)).record.response_id == b1.response_id
    assert await backend.claim(ECHO, "w") == []


async def _lose_the_lease(open_store: Opener, how: str) -> Backend:
    """A backend whose one running request (T1's, claimed by ``doomed``) just went back to
    the queue, and T2's newer request waits behind it; ``how``: its worker was released,
    or its lease ran out and was reaped."""
    backend = await open_store(short_leases(0.3))
    await submit(backend, T1)
    await claim(backend, worker_id="doomed")
    await submit(backend, T2)
    if how == "released":
        assert await backend.release_worker("doomed", "its worker exited") == 1
    else:
        await eventually(backend.reap_leases, "the lease to run out")
    return backend


@pytest.mark.parametrize("how", ["released", "expired"])
async def test_a_requeued_request_is_claimed_again_ahead_of_newer_requests(
    open_store: Opener, how: str
) -> None:
    """``release_worker``: "requeue the others (claimable at once, ahead of newer requests)";
    the newer request here is another tenant's, and that tenant was never served."""
    backend = await _lose_the_lease(open_store, how)
    again = await claim(backend)
    assert (again.record.tenant, again.record.attempts) == (T1, 2)


@pytest.mark.parametrize("how", ["released", "expired"])
async def test_queue_positions_count_a_requeued_request_in_the_order_claims_take_them(
    open_store: Opener, how: str
) -> None:
    """A requeued request included, each pending request's position is the number of claims
    that come before its own (whichever order the store serves them in)."""
    backend = await _lose_the_lease(open_store, how)
    pending = await backend.list_requests(None, status=Status.PENDING)
    await _claimed_in_the_order_of_their_positions(backend, pending)
