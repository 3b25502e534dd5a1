"""What the store knows of workers and queues: ``endpoint_ready``, ``setup_error``,
``remove_worker`` and ``endpoint_stats``."""

from __future__ import annotations

import pytest

from inferq.backends import Backend, EndpointStats, WorkerInfo
from inferq.domain import clock
from tests.backends.helpers import (
    ALICE,
    BOB,
    ECHO,
    OTHER,
    Opener,
    claim,
    completed,
    eventually,
    short_leases,
    submit,
    worker,
)

pytestmark = pytest.mark.anyio


async def test_an_endpoint_is_ready_while_a_worker_with_its_model_loaded_heartbeats(backend: Backend) -> None:
    assert not await backend.endpoint_ready(ECHO)
    await backend.heartbeat(worker("loading", ready=False), [])
    assert not await backend.endpoint_ready(ECHO)
    await backend.heartbeat(worker("loaded"), [])
    assert await backend.endpoint_ready(ECHO)
    assert not await backend.endpoint_ready(OTHER)
    await backend.remove_worker("loaded")
    assert not await backend.endpoint_ready(ECHO)


async def test_a_worker_without_heartbeats_for_a_lease_no_longer_counts(open_store: Opener) -> None:
    backend = await open_store(short_leases(0.3))
    await backend.heartbeat(worker(), [])
    assert await backend.endpoint_ready(ECHO)

    async def gone() -> bool:
        return not await backend.endpoint_ready(ECHO)

    await eventually(gone, "the worker's heartbeat to grow a lease old")
    assert (await backend.endpoint_stats(ECHO)).workers == 0


async def test_a_setup_error_is_kept_until_a_worker_of_the_endpoint_is_ready(backend: Backend) -> None:
    assert await backend.setup_error(ECHO) is None
    await backend.heartbeat(WorkerInfo("broken", ECHO, False, "ImportError: no module named torch"), [])
    assert await backend.setup_error(ECHO) == "ImportError: no module named torch"
    assert await backend.setup_error(OTHER) is None
    await backend.heartbeat(worker("loading", ready=False), [])
    assert await backend.setup_error(ECHO) == "ImportError: no module named torch"
    await backend.heartbeat(WorkerInfo("broken-again", ECHO, False, "OSError: out of memory"), [])
    assert await backend.setup_error(ECHO) == "OSError: out of memory"
    await backend.heartbeat(worker("loaded"), [])
    assert await backend.setup_error(ECHO) is None


async def test_endpoint_stats_of_an_endpoint_never_used_are_all_zero(backend: Backend) -> None:
    assert await backend.endpoint_stats("nowhere") == EndpointStats(0, 0, None, 0, 0)


async def test_endpoint_stats_count_the_queue_the_running_and_the_workers(backend: Backend) -> None:
    await completed(backend)
    for tenant in (ALICE, ALICE, BOB, ALICE):
        await submit(backend, tenant)
    await submit(backend, endpoint=OTHER)
    await claim(backend, worker_id="w1")
    cancelled = await submit(backend, BOB)
    await backend.cancel(BOB, cancelled.response_id)
    await backend.heartbeat(worker("w1"), [])
    await backend.heartbeat(worker("w2", ready=False), [])
    await backend.heartbeat(worker("w3", OTHER), [])
    stats = await backend.endpoint_stats(ECHO)
    assert (stats.pending, stats.running, stats.workers, stats.ready_workers) == (3, 1, 2, 1)
    await backend.remove_worker("w2")
    assert (await backend.endpoint_stats(ECHO)).workers == 1
    other = await backend.endpoint_stats(OTHER)
    assert (other.pending, other.running, other.workers, other.ready_workers) == (1, 0, 1, 1)


async def _age_of(backend: Backend, created_at: float) -> None:
    """The oldest pending age is the stats' moment minus ``created_at``: bracketed by clock reads."""
    earliest = clock.now() - created_at
    age = (await backend.endpoint_stats(ECHO)).oldest_pending_age_s
    latest = clock.now() - created_at
    assert age is not None
    assert earliest - 0.001 <= age <= latest + 0.001


async def test_the_oldest_pending_age_is_that_of_the_request_first_in_line(backend: Backend) -> None:
    assert (await backend.endpoint_stats(ECHO)).oldest_pending_age_s is None
    first = await submit(backend, ALICE)
    second = await submit(backend, BOB)
    await _age_of(backend, first.created_at)
    await claim(backend, worker_id="doomed")
    await _age_of(backend, second.created_at)
    await backend.release_worker("doomed", "its worker exited")  # requeued: first in line again
    await _age_of(backend, first.created_at)
    await claim(backend), await claim(backend)
    assert (await backend.endpoint_stats(ECHO)).oldest_pending_age_s is None
