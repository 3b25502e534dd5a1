"""Waiting on many futures at once: :func:`as_completed` over ``POST /v1/requests/wait``.

Never a sleep loop and never one poll per future: the futures of one server go out in
streams of as many ids as the server takes (:data:`~inferq.protocol.limits.MAX_WAIT_IDS`),
and the server sends each request's end as it happens. A stream that reaches its time
limit (or drops) is opened again with the ids still going.
``for`` reads the streams on threads with sync clients; ``async for`` as asyncio tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse, connect_sse

from inferq.errors import WaitTimeout
from inferq.protocol.limits import MAX_WAIT_IDS, MAX_WAIT_STREAM_S
from inferq.protocol.streams import DONE, MISSING
from inferq.sdk._base import decode
from inferq.sdk.events import STREAM_TIMEOUT, Reconnects

if TYPE_CHECKING:
    from inferq.sdk.async_client import AsyncClient
    from inferq.sdk.client import Client
    from inferq.sdk.future import InferenceFuture

__all__ = ["as_completed"]


def as_completed(futures: Iterable[InferenceFuture], timeout: float | None = None) -> Completion:
    """Yield ``futures`` as their requests end (completed, failed or cancelled), first done first.

    Use ``for`` with sync code and ``async for`` in a coroutine. Each future is watched
    with the client that created it (or one configured like it). A failed or cancelled
    future is yielded too; its ``result()`` raises, as it does for one whose request
    expired. Raises :class:`~inferq.WaitTimeout` if some have not ended ``timeout``
    seconds after iteration starts.
    """
    return Completion(list(futures), timeout)


@dataclass
class Watch:
    """One stream's worth of futures of one server, and what is left of them."""

    url: str
    going: dict[str, InferenceFuture]
    deadline: float | None
    reconnects: Reconnects = field(default_factory=Reconnects)

    def request(self) -> dict[str, Any]:
        """Keyword arguments of the next stream; the key lets the retry transport resend it."""
        wait = (
            MAX_WAIT_STREAM_S
            if self.deadline is None
            else max(0.0, min(MAX_WAIT_STREAM_S, self.deadline - time.monotonic()))
        )
        return {
            "json": {"response_ids": list(self.going), "timeout": round(wait, 3), "include_output": True},
            "headers": {"Idempotency-Key": str(uuid.uuid4())},
            "timeout": STREAM_TIMEOUT,
        }

    def ended(self, sse: ServerSentEvent) -> InferenceFuture | None:
        """The future a ``done`` or ``missing`` event ends."""
        self.reconnects.received()
        if sse.event not in (DONE, MISSING):
            return None
        state = sse.json()
        future = self.going.pop(str(state["response_id"]), None)
        if future is not None and sse.event == DONE:
            future.settle(state)
        return future

    @property
    def over(self) -> bool:
        return not self.going or (self.deadline is not None and time.monotonic() >= self.deadline)


def _watches(
    futures: list[InferenceFuture], owners: list[Any], timeout: float | None
) -> list[tuple[Any, Watch]]:
    """Futures grouped by (client, server), in streams of at most the server's limit of ids."""
    deadline = None if timeout is None else time.monotonic() + timeout
    groups: dict[tuple[int, str], tuple[Any, dict[str, InferenceFuture]]] = {}
    for future, owner in zip(futures, owners, strict=True):
        url = f"{future.poll_url.rstrip('/').rsplit('/', 1)[0]}/wait"
        groups.setdefault((id(owner), url), (owner, {}))[1][future.response_id] = future
    watches = []
    for (_, url), (owner, going) in groups.items():
        ids = list(going)
        for start in range(0, len(ids), MAX_WAIT_IDS):
            chunk = {i: going[i] for i in ids[start : start + MAX_WAIT_IDS]}
            watches.append((owner, Watch(url, chunk, deadline, Reconnects(owner.retry_for))))
    return watches


def _follow(client: Client, watch: Watch, out: queue.Queue[Any], stop: threading.Event) -> None:
    """Read streams of ``watch`` until all its futures ended or time is up."""
    try:
        while not watch.over and not stop.is_set():
            try:
                with connect_sse(client._http, "POST", watch.url, **watch.request()) as source:
                    if source.response.status_code >= 400:
                        source.response.read()
                        decode(source.response)
                    for sse in source.iter_sse():
                        if (future := watch.ended(sse)) is not None:
                            out.put(future)
                        if stop.is_set():
                            return
            except httpx.TransportError as exc:
                time.sleep(watch.reconnects.dropped(exc))
    except Exception as exc:  # noqa: BLE001 - handed to the iterating thread, which raises it
        out.put(exc)
    finally:
        out.put(None)


async def _afollow(client: AsyncClient, watch: Watch, out: asyncio.Queue[Any]) -> None:
    try:
        while not watch.over:
            try:
                async with aconnect_sse(client._http, "POST", watch.url, **watch.request()) as source:
                    if source.response.status_code >= 400:
                        await source.response.aread()
                        decode(source.response)
                    async for sse in source.aiter_sse():
                        if (future := watch.ended(sse)) is not None:
                            out.put_nowait(future)
            except httpx.TransportError as exc:
                await asyncio.sleep(watch.reconnects.dropped(exc))
    except Exception as exc:  # noqa: BLE001 - handed to the iterating task, which raises it
        out.put_nowait(exc)
    finally:
        out.put_nowait(None)


class Completion:
    """What :func:`as_completed` returns: iterable both ways, one pass each time."""

    def __init__(self, futures: list[InferenceFuture], timeout: float | None) -> None:
        self.futures = futures
        self.timeout = timeout

    def __iter__(self) -> Iterator[InferenceFuture]:
        if not self.futures:
            return
        out: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()
        with contextlib.ExitStack() as stack:
            watches = _watches(self.futures, _sync_clients(self.futures, stack), self.timeout)
            threads = [
                threading.Thread(
                    target=_follow, args=(client, watch, out, stop), daemon=True, name="inferq-wait"
                )
                for client, watch in watches
            ]
            for thread in threads:
                thread.start()
            try:
                yield from self._drain(iter(out.get, _NEVER), len(threads))
            finally:
                stop.set()

    async def __aiter__(self) -> AsyncIterator[InferenceFuture]:
        if not self.futures:
            return
        out: asyncio.Queue[Any] = asyncio.Queue()
        async with contextlib.AsyncExitStack() as stack:
            watches = _watches(self.futures, await _async_clients(self.futures, stack), self.timeout)
            tasks = [asyncio.ensure_future(_afollow(client, watch, out)) for client, watch in watches]
            try:
                finished, yielded = 0, 0
                while finished < len(tasks):
                    item = await out.get()
                    finished, yielded, future = self._take(item, finished, yielded)
                    if future is not None:
                        yield future
                self._check(yielded)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def _drain(self, items: Iterator[Any], streams: int) -> Iterator[InferenceFuture]:
        finished, yielded = 0, 0
        while finished < streams:
            finished, yielded, future = self._take(next(items), finished, yielded)
            if future is not None:
                yield future
        self._check(yielded)

    @staticmethod
    def _take(item: Any, finished: int, yielded: int) -> tuple[int, int, InferenceFuture | None]:
        """One item from the streams: a future that ended, an error to raise, or None (a stream is over)."""
        if item is None:
            return finished + 1, yielded, None
        if isinstance(item, Exception):
            raise item
        return finished, yielded + 1, item

    def _check(self, yielded: int) -> None:
        if yielded < len(self.futures):
            raise WaitTimeout(
                f"{len(self.futures) - yielded} of {len(self.futures)} requests did not end within "
                f"{self.timeout} s; they go on"
            )


#: A sentinel ``queue.get`` never returns, so ``iter(out.get, _NEVER)`` reads forever.
_NEVER = object()


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
