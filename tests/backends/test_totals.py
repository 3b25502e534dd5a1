"""``endpoint_totals``: every end of a request counted once, by status, with histograms of the
queue wait, run time and end to end of those that had started."""

from __future__ import annotations

import pytest

from inferq.backends import Backend
from inferq.domain import clock
from inferq.domain.records import RequestRecord
from tests.backends.helpers import ALICE, ECHO, OTHER, RETENTION_S, Opener, claim, completed, submit

pytestmark = pytest.mark.anyio

SPANS = {
    "queue_wait": lambda r: r.started_at - r.created_at,
    "run": lambda r: r.completed_at - r.started_at,
    "end_to_end": lambda r: r.completed_at - r.created_at,
}


async def _ends_of_every_kind(backend: Backend) -> list[RequestRecord]:
    """One request ended each way: completed, failed, cancelled while running, cancelled while
    pending (never started), failed after a released worker's last attempt."""
    done = await completed(backend)
    failing = await submit(backend)
    await backend.fail(await claim(backend), "inference_failed", "boom")
    running = await submit(backend)
    await claim(backend)
    await backend.cancel(ALICE, running.response_id)
    pending = await submit(backend)
    await backend.cancel(ALICE, pending.response_id)
    released = await submit(backend)
    for attempt in (1, 2):
        await claim(backend, worker_id=f"doomed-{attempt}")
        await backend.release_worker(f"doomed-{attempt}", "its worker exited")
    ids = [r.response_id for r in (done, failing, running, pending, released)]
    return [await backend.get(ALICE, response_id) for response_id in ids]


def _cumulative(values: list[float], buckets: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    return tuple((le, sum(1 for v in values if le == "+Inf" or v <= float(le))) for le, _ in buckets)


async def test_every_end_is_counted_by_status_and_observed_if_it_had_started(backend: Backend) -> None:
    ended = await _ends_of_every_kind(backend)
    totals = await backend.endpoint_totals(ECHO)
    assert totals.finished == {"completed": 1, "failed": 2, "cancelled": 2}
    started = [r for r in ended if r.started_at is not None]
    assert len(started) == 4
    for name, span in SPANS.items():
        histogram = totals.histograms[name]
        values = [max(0.0, span(r)) for r in started]
        assert histogram.count == 4, name
        assert histogram.sum == pytest.approx(sum(values), abs=1e-3), name
        assert histogram.buckets == _cumulative(values, histogram.buckets), name
        assert histogram.buckets[-1][0] == "+Inf"


async def test_totals_are_per_endpoint_and_all_zero_for_one_never_used(backend: Backend) -> None:
    await completed(backend, endpoint=OTHER)
    echo = await backend.endpoint_totals(ECHO)
    assert echo.finished == {"completed": 0, "failed": 0, "cancelled": 0}
    assert all(h.count == 0 and h.sum == 0 for h in echo.histograms.values())
    assert (await backend.endpoint_totals(OTHER)).finished["completed"] == 1


async def test_calls_that_change_nothing_count_nothing(backend: Backend) -> None:
    record = await submit(backend)
    taken = await claim(backend)
    assert await backend.complete(taken, b"{}")
    before = await backend.endpoint_totals(ECHO)
    await backend.complete(taken, b"{}")  # a retried call of the worker
    await backend.fail(taken, "inference_failed", "late")
    await backend.cancel(ALICE, record.response_id)
    await backend.release_worker("worker-1", "exited")
    assert await backend.endpoint_totals(ECHO) == before


async def test_every_process_reads_the_same_totals_and_retention_leaves_them(open_store: Opener) -> None:
    gateway, worker_process = await open_store(), await open_store()
    await completed(worker_process)
    cancelled = await submit(gateway)
    await gateway.cancel(ALICE, cancelled.response_id)
    assert await gateway.endpoint_totals(ECHO) == await worker_process.endpoint_totals(ECHO)
    before = await gateway.endpoint_totals(ECHO)
    assert before.finished == {"completed": 1, "failed": 0, "cancelled": 1}
    assert await gateway.expire(clock.now() + RETENTION_S + 1) == 2
    assert await gateway.endpoint_totals(ECHO) == before
