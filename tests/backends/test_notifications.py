"""``backend.bus``: what wakes workers (work on an endpoint), long polls and event streams (a
request changed) and webhook deliverers (a delivery was queued), when another process on the
same store makes the change. Every wait is bounded at ten seconds only so that a lost
notification fails the test instead of hanging it; none is measured."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from inferq.backends import Backend
from inferq.domain.records import Submission
from tests.backends.helpers import ALICE, ECHO, Opener, claim, eventually, short_leases, submit, worker

pytestmark = pytest.mark.anyio

BOUND_S = 10


async def woken(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), BOUND_S)
    event.clear()


async def two(open_store: Opener) -> tuple[Backend, Backend]:
    """A process that watches and another that changes the store, where requests that lose
    their lease go back to the queue (a failed one wakes no worker)."""
    policy = dataclasses.replace(short_leases(0.3), max_attempts=10)
    return await open_store(policy), await open_store(policy)


async def test_work_wakes_the_workers_of_its_endpoint(open_store: Opener) -> None:
    watcher, other = await two(open_store)
    with watcher.bus.watch_work(ECHO) as work:
        await submit(other)
        await woken(work)
        await other.enqueue_many([Submission(ALICE, ECHO, b"{}")])
        await woken(work)
        await claim(other)
        await eventually(other.reap_leases, "the lease to run out")
        await woken(work)
        await claim(other, worker_id="doomed")
        await other.release_worker("doomed", "its worker exited")
        await woken(work)


async def test_every_change_of_a_request_wakes_its_watchers(open_store: Opener) -> None:
    watcher, other = await two(open_store)
    record = await submit(other)
    with watcher.bus.watch_changes(record.response_id) as changed:
        taken = await claim(other)
        await woken(changed)
        await other.report_progress(taken, 0.5)
        await woken(changed)
        await other.complete(taken, b"{}")
        await woken(changed)
    cancelled = await submit(other)
    with watcher.bus.watch_changes(cancelled.response_id) as changed:
        await other.cancel(ALICE, cancelled.response_id)
        await woken(changed)


async def test_one_watch_of_many_requests_tells_which_changed(open_store: Opener) -> None:
    watcher, other = await two(open_store)
    records = [await submit(other) for _ in range(3)]
    with watcher.bus.watch_changes_of(r.response_id for r in records) as changed:
        await other.cancel(ALICE, records[0].response_id)
        await other.cancel(ALICE, records[2].response_id)
        seen: set[str] = set()
        while seen != {records[0].response_id, records[2].response_id}:
            await asyncio.wait_for(changed.event.wait(), BOUND_S)
            seen |= changed.take()


async def test_a_queued_webhook_delivery_wakes_the_deliverers(open_store: Opener) -> None:
    watcher, other = await two(open_store)
    await submit(other, webhook="https://hooks.example/x", events=("start",))
    with watcher.bus.watch_webhooks() as due:
        await claim(other)
        await woken(due)


async def test_a_heartbeat_changes_nothing_that_is_watched(open_store: Opener) -> None:
    """The contrary check, so that the tests above cannot pass on a bus that wakes everyone
    for anything: a heartbeat is no change of the request."""
    watcher, other = await two(open_store)
    record = await submit(other)
    with watcher.bus.watch_changes(record.response_id) as changed:
        taken = await claim(other)
        await woken(changed)
        await other.heartbeat(worker(), [taken.lease_id])
        marker = await submit(other)
        with watcher.bus.watch_changes(marker.response_id) as marked:
            await other.cancel(ALICE, marker.response_id)
            await woken(marked)
        assert not changed.is_set()
