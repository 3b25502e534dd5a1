"""Fixtures of the backend contract suite: each test runs once per kind of store, on a fresh one.

As litestar's store tests and saq's queue tests do: every behaviour is written once against
``backend`` (or ``open_store``, for several processes on one store), and runs on each entry
of :data:`tests.backends.stores.STORES`. Only ``open_backend`` and the public methods of
``Backend`` are used (and its ``bus``, which gateways and workers watch), so the suite is
the contract a new backend must pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from inferq.backends import Backend, open_backend
from inferq.policy import Policy
from tests.backends.helpers import POLICY, Opener
from tests.backends.stores import STORES, Store, unavailable


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
