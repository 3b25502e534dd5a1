"""Waiting on many futures at once: :func:`as_completed` over ``GET ?wait=S`` long polls.

Never a sleep loop: each outstanding future has one long poll open, which the server
answers the moment its request ends. ``for`` runs the polls on a small thread pool with
sync clients; ``async for`` runs them concurrently as asyncio tasks with async clients.
One future's wait is :meth:`Client.wait`, built on the same flow (``settle_flow``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from inferq.errors import WaitTimeout
from inferq.sdk._base import settle_flow

if TYPE_CHECKING:
    from inferq.sdk.async_client import AsyncClient
    from inferq.sdk.client import Client
    from inferq.sdk.future import InferenceFuture

__all__ = ["as_completed"]

#: Threads for ``for f in as_completed(...)``: each holds one long poll open.
MAX_THREADS = 16

Settled = tuple["InferenceFuture", "dict[str, Any] | None"]


def as_completed(futures: Iterable[InferenceFuture], timeout: float | None = None) -> Completion:
    """Yield ``futures`` as their requests end (completed, failed or cancelled), first done first.

    Use ``for`` with sync code and ``async for`` in a coroutine. Each future is polled
    with the client that created it (or one configured like it). A failed or cancelled
    future is yielded too; its ``result()`` raises. Raises :class:`~inferq.WaitTimeout`
    if some have not ended ``timeout`` seconds after iteration starts.
    """
    return Completion(list(futures), timeout)


class Completion:
    """What :func:`as_completed` returns: iterable both ways, one pass each time."""

    def __init__(self, futures: list[InferenceFuture], timeout: float | None) -> None:
        self.futures = futures
        self.timeout = timeout

    def __iter__(self) -> Iterator[InferenceFuture]:
        if not self.futures:
            return
        stop = threading.Event()
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=min(MAX_THREADS, len(self.futures)), thread_name_prefix="inferq-wait"
        )
        with contextlib.ExitStack() as stack:
            clients = _sync_clients(self.futures, stack)
            jobs = [
                pool.submit(_settle, client, future, self.timeout, stop)
                for client, future in zip(clients, self.futures, strict=True)
            ]
            try:
                for job in concurrent.futures.as_completed(jobs):
                    yield self._done(*job.result())
            finally:
                stop.set()
                pool.shutdown(wait=False, cancel_futures=True)

    async def __aiter__(self) -> AsyncIterator[InferenceFuture]:
        async with contextlib.AsyncExitStack() as stack:
            clients = await _async_clients(self.futures, stack)
            tasks = [
                asyncio.ensure_future(_asettle(client, future, self.timeout))
                for client, future in zip(clients, self.futures, strict=True)
            ]
            try:
                for next_done in asyncio.as_completed(tasks):
                    yield self._done(*(await next_done))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def _done(self, future: InferenceFuture, state: dict[str, Any] | None) -> InferenceFuture:
        if state is None:
            raise WaitTimeout(f"request {future.response_id} did not end within {self.timeout} s; it goes on")
        return future


def _settle(client: Client, future: InferenceFuture, timeout: float | None, stop: threading.Event) -> Settled:
    return future, client._drive(settle_flow(future, timeout, stop.is_set))


async def _asettle(client: AsyncClient, future: InferenceFuture, timeout: float | None) -> Settled:
    return future, await client._drive(settle_flow(future, timeout))


def _sync_clients(futures: list[InferenceFuture], stack: contextlib.ExitStack) -> list[Client]:
    """One sync client per distinct owner: the owner itself, or a temporary one like it."""
    by_owner: dict[int, Client] = {}
    for future in futures:
        if id(future.client) not in by_owner:
            by_owner[id(future.client)] = stack.enter_context(future.sync_client())
    return [by_owner[id(future.client)] for future in futures]


async def _async_clients(
    futures: list[InferenceFuture], stack: contextlib.AsyncExitStack
) -> list[AsyncClient]:
    by_owner: dict[int, AsyncClient] = {}
    for future in futures:
        if id(future.client) not in by_owner:
            by_owner[id(future.client)] = await stack.enter_async_context(future.async_client())
    return [by_owner[id(future.client)] for future in futures]
