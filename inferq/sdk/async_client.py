"""AsyncClient: the same methods as :class:`~inferq.Client`, as coroutines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import httpx
from httpx_sse import aconnect_sse

from inferq.errors import APIError
from inferq.sdk._base import (
    DEFAULT_TIMEOUT_S,
    BaseClient,
    Duration,
    Flow,
    Sleep,
    Step,
    decode,
    retry_query,
    scheduling_headers,
    webhook_params,
)
from inferq.sdk.events import STREAM_TIMEOUT, Pieces, Reconnects, RequestEvent, events_url, parse
from inferq.sdk.files import FileRef, Uploadable
from inferq.sdk.future import InferenceFuture
from inferq.sdk.retry import DEFAULT_RETRY_FOR_S, AsyncRetryTransport, unreachable

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(BaseClient):
    """The asynchronous client; see :class:`~inferq.Client` for the arguments and semantics."""

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry_for: float = DEFAULT_RETRY_FOR_S,
        max_attempts: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(token, base_url, timeout, retry_for)
        self._http = httpx.AsyncClient(
            headers=self._headers(),
            timeout=timeout,
            transport=AsyncRetryTransport(transport, max_attempts=max_attempts, retry_for=retry_for),
        )

    async def health_check(self, endpoint_url: str, timeout: float = 900.0) -> int:
        """GET the healthcheck until 200 or ``timeout``; the last status code at the deadline."""
        return await self._drive(self._health_check_flow(endpoint_url, timeout))

    async def infer(
        self,
        endpoint_url: str,
        inputs: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: str | None = None,
        deadline: Duration | None = None,
        retention: Duration | None = None,
        reuse: bool = False,
    ) -> dict[str, Any]:
        """Run an inference and return its outputs (waiting on by long polls past a 504);
        the scheduling options as :meth:`Client.infer_async` describes them."""
        headers = scheduling_headers(priority, deadline, retention, reuse)
        return await self._drive(self._infer_flow(endpoint_url, inputs, idempotency_key, headers))

    async def infer_async(
        self,
        endpoint_url: str,
        inputs: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        webhook: str | None = None,
        webhook_events_filter: Sequence[str] | str | None = None,
        priority: str | None = None,
        deadline: Duration | None = None,
        retention: Duration | None = None,
        reuse: bool = False,
    ) -> InferenceFuture:
        """Queue an inference and return its future at once (idempotent submit, safe retries),
        with webhook deliveries and scheduling options as :meth:`Client.infer_async` describes."""
        params = webhook_params(webhook, webhook_events_filter)
        headers = scheduling_headers(priority, deadline, retention, reuse)
        return await self._drive(
            self._infer_async_flow(endpoint_url, inputs, idempotency_key, headers, params)
        )

    async def infer_batch(
        self,
        endpoint_url: str,
        inputs: Sequence[Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        priority: str | None = None,
        deadline: Duration | None = None,
        retention: Duration | None = None,
        reuse: bool = False,
    ) -> list[InferenceFuture]:
        """Queue many inferences in a few calls (of up to
        :data:`~inferq.protocol.limits.MAX_BATCH_INPUTS` inputs) and return their futures,
        in order; collect them with :func:`~inferq.as_completed`. A bad input queues none
        of its call's inputs (422 naming ``inputs[i]``). The scheduling options apply to
        each request, as :meth:`Client.infer_async` describes them."""
        headers = scheduling_headers(priority, deadline, retention, reuse)
        return await self._drive(self._infer_batch_flow(endpoint_url, inputs, idempotency_key, headers))

    async def is_future_ready(self, future: InferenceFuture) -> bool:
        """True once completed; raises InferenceFailed or RequestCancelled if it never will be."""
        return await self._drive(self._is_future_ready_flow(future))

    async def get_future_result(self, future: InferenceFuture) -> dict[str, Any] | None:
        """The outputs if completed, None while pending or running; raises like is_future_ready."""
        return await self._drive(self._get_future_result_flow(future))

    async def wait(self, future: InferenceFuture, timeout: float | None = None) -> dict[str, Any]:
        """Long-poll until the request ends and return its outputs; WaitTimeout after ``timeout`` s."""
        return await self._drive(self._wait_flow(future, timeout))

    async def upload(self, file: Uploadable) -> FileRef:
        """Upload a file (a path, an open binary file, or an ``inferq.types`` file), streamed;
        pass the answer (or its ``.ref``) as any file input of your requests. Files expire
        with the server's retention (24 h by default)."""
        return await self._drive(self._upload_flow(file))

    async def retry(
        self,
        future: InferenceFuture,
        *,
        priority: str | None = None,
        deadline: Duration | None = None,
        retention: Duration | None = None,
    ) -> InferenceFuture:
        """Run a failed or cancelled request again with its stored inputs, as a new request
        (its ``retry_of`` names the first); it keeps its webhook, and its priority and
        retention unless given. Conflict if it did not fail and was not cancelled."""
        headers = scheduling_headers(priority, deadline, retention)
        return await self._drive(self._retry_flow(future, headers))

    async def retry_many(
        self,
        response_ids: Sequence[str] | None = None,
        *,
        status: str | None = None,
        endpoint: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        priority: str | None = None,
        deadline: Duration | None = None,
        retention: Duration | None = None,
    ) -> dict[str, InferenceFuture | APIError]:
        """Run many failed or cancelled requests again in one call: ``response_ids``, or
        those a filter picks (``status`` ``"failed"`` or ``"cancelled"``, ``endpoint``,
        created ``since``; not those retried already). Each id maps to its retry's future,
        or to the error that kept it from being retried."""
        query = retry_query(response_ids, status, endpoint, since, limit)
        headers = scheduling_headers(priority, deadline, retention)
        return await self._drive(self._retry_many_flow(query, headers))

    async def cancel(self, future: InferenceFuture) -> None:
        """Cancel a pending or running request: running work stops (a model that does not
        stop within the server's ``--cancel-grace`` has its worker replaced); Conflict if it
        already completed or failed."""
        await self._drive(self._cancel_flow(future))

    async def events(self, future: InferenceFuture) -> AsyncIterator[RequestEvent]:
        """The request's changes as they happen (queued with its position, running,
        progress), ending with its final state; a dropped stream is resumed."""
        reconnects = Reconnects(self.retry_for)
        while True:
            try:
                async with aconnect_sse(
                    self._http, "GET", events_url(future), timeout=STREAM_TIMEOUT
                ) as source:
                    if source.response.status_code >= 400:
                        await source.response.aread()
                        decode(source.response)
                    async for sse in source.aiter_sse():
                        event = parse(sse)
                        if event is None:
                            continue
                        reconnects.received()
                        yield event
                        if event.is_final:
                            return
                raise httpx.RemoteProtocolError("the event stream ended before the request did")
            except httpx.TransportError as exc:
                await anyio.sleep(reconnects.dropped(exc))

    async def stream(self, future: InferenceFuture) -> AsyncIterator[Any]:
        """The pieces of output the request's model saves as it goes (a transcript's
        segments), each once, as they come, from its first; ends when the request completes
        (its ``result`` has them all), raises as ``result`` does if it fails or is cancelled.
        A model that saves no checkpoints yields nothing."""
        pieces = Pieces()
        async for event in self.events(future):
            for piece in pieces.new(event):
                yield piece

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _drive(self, flow: Flow[T]) -> T:
        """Run a flow: send each call it yields, feed back the answer (or the transport error)."""
        try:
            step = next(flow)
            while True:
                try:
                    reply = await self._perform(step)
                except httpx.TransportError as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except httpx.TransportError as exc:
            raise unreachable(exc) from exc

    async def _perform(self, step: Step) -> httpx.Response | None:
        if isinstance(step, Sleep):
            await anyio.sleep(step.seconds)
            return None
        return await self._http.request(step.method, step.url, **step.options(self.timeout))
