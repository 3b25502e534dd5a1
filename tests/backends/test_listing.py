"""``list_requests``: a tenant's requests newest first, paged by ``before``, filtered by status and
endpoint; ``tenant=None`` lists every tenant's, as an admin sees them."""

from __future__ import annotations

import pytest

from inferq.backends import Backend
from inferq.domain.records import RequestRecord
from inferq.domain.status import Status
from tests.backends.helpers import ALICE, BOB, ECHO, OTHER, claim, submit

pytestmark = pytest.mark.anyio


def ids(records: list[RequestRecord]) -> list[str]:
    return [record.response_id for record in records]


async def _mixed(backend: Backend) -> list[RequestRecord]:
    """Seven requests, oldest first: Alice's on both endpoints and two of Bob's, between them one
    completed, one running and one cancelled."""
    made = [
        await submit(backend, ALICE, ECHO),
        await submit(backend, BOB, ECHO),
        await submit(backend, ALICE, OTHER),
        await submit(backend, ALICE, ECHO),
        await submit(backend, BOB, OTHER),
        await submit(backend, ALICE, OTHER),
        await submit(backend, ALICE, ECHO),
    ]
    first = await claim(backend, ECHO)
    assert first.record.response_id == made[0].response_id
    assert await backend.complete(first, b"{}")
    assert (await claim(backend, OTHER)).record.response_id == made[2].response_id
    await backend.cancel(ALICE, made[3].response_id)
    return [await backend.get(r.tenant, r.response_id) for r in made]


async def test_a_tenant_lists_only_its_own_requests_newest_first(backend: Backend) -> None:
    made = await _mixed(backend)
    alices = [r for r in made if r.tenant == ALICE][::-1]
    listed = await backend.list_requests(ALICE)
    assert ids(listed) == ids(alices)
    assert [r.status for r in listed] == [r.status for r in alices]
    assert ids(await backend.list_requests(BOB)) == ids([r for r in made if r.tenant == BOB][::-1])
    assert await backend.list_requests("tok_nobody") == []


async def test_pages_follow_each_other_by_the_last_id_of_the_previous_page(backend: Backend) -> None:
    made = await _mixed(backend)
    newest_first = ids([r for r in made if r.tenant == ALICE][::-1])
    pages, before = [], None
    while True:
        page = await backend.list_requests(ALICE, limit=2, before=before)
        if not page:
            break
        assert len(page) <= 2
        pages.append(ids(page))
        before = page[-1].response_id
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]


async def test_an_unknown_or_another_tenant_s_cursor_yields_an_empty_page(backend: Backend) -> None:
    made = await _mixed(backend)
    bobs = next(r for r in made if r.tenant == BOB)
    assert await backend.list_requests(ALICE, before="nonsense") == []
    assert await backend.list_requests(ALICE, before=bobs.response_id) == []


async def test_status_and_endpoint_filters_apply_alone_together_and_across_pages(backend: Backend) -> None:
    made = await _mixed(backend)
    alices = [r for r in made if r.tenant == ALICE][::-1]

    def where(status: Status | None = None, endpoint: str | None = None) -> list[str]:
        return ids([r for r in alices if status in (None, r.status) and endpoint in (None, r.endpoint)])

    for status in Status:
        assert ids(await backend.list_requests(ALICE, status=status)) == where(status), status
    assert ids(await backend.list_requests(ALICE, endpoint=OTHER)) == where(endpoint=OTHER)
    pending_echo = await backend.list_requests(ALICE, status=Status.PENDING, endpoint=ECHO)
    assert ids(pending_echo) == where(Status.PENDING, ECHO)
    first = await backend.list_requests(ALICE, endpoint=ECHO, limit=1)
    rest = await backend.list_requests(ALICE, endpoint=ECHO, before=first[-1].response_id)
    assert ids(first + rest) == where(endpoint=ECHO)
    assert await backend.list_requests(ALICE, endpoint="nowhere") == []


async def test_tenant_none_lists_every_tenant_s_requests_newest_first_with_the_same_paging(
    backend: Backend,
) -> None:
    made = await _mixed(backend)
    everyone = ids(made[::-1])
    assert ids(await backend.list_requests(None)) == everyone
    first = await backend.list_requests(None, limit=3)
    rest = await backend.list_requests(None, before=first[-1].response_id)
    assert ids(first + rest) == everyone
    assert {r.tenant for r in first + rest} == {ALICE, BOB}
    pending = await backend.list_requests(None, status=Status.PENDING, endpoint=OTHER)
    assert ids(pending) == ids([r for r in made[::-1] if r.status is Status.PENDING and r.endpoint == OTHER])
    assert await backend.list_requests(None, before="nonsense") == []


async def test_a_deleted_request_leaves_the_listings(backend: Backend) -> None:
    made = await _mixed(backend)
    await backend.delete(ALICE, made[0].response_id)
    assert made[0].response_id not in ids(await backend.list_requests(ALICE))
    assert made[0].response_id not in ids(await backend.list_requests(None))
    assert await backend.list_requests(ALICE, before=made[0].response_id) == []
