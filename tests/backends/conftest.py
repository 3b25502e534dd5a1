"""Fixtures of the backend contract suite: each test runs once per kind of store, on a fresh one.

As litestar's store tests and saq's queue tests do: every behaviour is written once against
``backend`` (or ``open_store``, for several processes on one store), and runs on each entry
of :data:`tests.backends.stores.STORES`. Only ``open_backend`` and the public methods of
``Backend`` are used, so the suite is the contract a new backend must pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from inferq.backends import Backend, open_backend
from inferq.policy import Policy
from tests.backends.stores import STORES, Store, unavailable

#: Retention long enough that no key expires by itself within a test; ``expire`` is given
#: the moment to judge by, so retention is tested by passing a later one, never by sleeping.
RETENTION_S = 3600.0
#: Leases that do not run out within a test; tests of lost leases open a short one.
POLICY = Policy(retention_s=RETENTION_S, lease_s=30.0, max_attempts=2)

Opener = Callable[..., Awaitable[Backend]]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """The backends are asyncio code."""
    return "asyncio"


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh, empty store of each kind, dropped after the test."""
    reason = unavailable(request.param)
    if reason is not None:
        pytest.skip(reason)
    fresh = STORES[request.param]()
    yield fresh
    fresh.drop()


@pytest.fixture
async def open_store(store: Store) -> AsyncIterator[Opener]:
    """Open and start a backend on the test's store, as another process would (a gateway, a
    worker), with :data:`POLICY` or the policy given; every one is closed at the end."""
    opened: list[Backend] = []

    async def open_(policy: Policy = POLICY) -> Backend:
        backend = open_backend(store.url, policy)
        await backend.start()
        opened.append(backend)
        return backend

    yield open_
    for backend in reversed(opened):
        await backend.close()


@pytest.fixture
async def backend(open_store: Opener) -> Backend:
    """One started backend on a fresh store."""
    return await open_store()
