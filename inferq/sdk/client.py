"""Client: the blocking SDK, method for method compatible with OctoAI's ``Client``."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from httpx_sse import connect_sse

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
from inferq.sdk.retry import DEFAULT_RETRY_FOR_S, RetryTransport, unreachable

__all__ = ["Client"]

T = TypeVar("T")


class Client(BaseClient):
    """Talks to an inferq server (or any OctoAI-style endpoint) over one keep-alive pool.

    ``token`` defaults to ``INFERQ_TOKEN``, then ``OCTOAI_TOKEN``; ``base_url`` (or
    ``INFERQ_BASE_URL``) lets methods take endpoint names instead of absolute URLs.
    Calls are retried on connection errors, 429 and 5xx for up to ``retry_for`` seconds
    (so a server restart is ridden out; waits retry within their own timeout), or at most
    ``max_attempts`` times when that is given; what still fails is an inferq error
    (:class:`~inferq.errors.ServerUnreachable`), never a transport exception.
    ``transport`` replaces the network under the retries (tests, proxies).
    """

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry_for: float = DEFAULT_RETRY_FOR_S,
        max_attempts: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(token, base_url, timeout, retry_for)
        self._http = httpx.Client(
            headers=self._headers(),
            timeout=timeout,
            transport=RetryTransport(transport, max_attempts=max_attempts, retry_for=retry_for),
        )

    def health_check(self, endpoint_url: str, timeout: float = 900.0) -> int:
        """GET the endpoint's healthcheck until it answers 200 or ``timeout`` passes.

        503 (model loading) and connection errors are retried; at the deadline the last
        status code is returned rather than raised, as OctoAI does. Other 4xx raise.
        """
        return self._drive(self._health_check_flow(endpoint_url, timeout))

    def infer(
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
        ``priority``, ``deadline`` and ``retention`` as :meth:`infer_async` takes them."""
        headers = scheduling_headers(priority, deadline, retention, reuse)
        return self._drive(self._infer_flow(endpoint_url, inputs, idempotency_key, headers))

    def infer_async(
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
        """Queue an inference and return its future at once.

        The submit carries an ``Idempotency-Key`` (a fresh uuid4 unless given), reused by
        retries, so the request is never queued twice. With ``webhook``, the server POSTs
        the request's state, signed per Standard Webhooks, to that URL when it ends, and
        when it starts too with ``webhook_events_filter=["start", "completed"]``.

        Scheduling (each left to the server when None; a bad value raises ValueError
        before any call): ``priority`` (``"high"``, ``"normal"``, ``"low"``) orders the
        request among your own (``"urgent"``, for admin tokens only, before every token's);
        ``deadline`` (seconds, or ``"10m"``) cancels it if it has not finished that long
        after submit, and a server whose estimate says it cannot finish in time refuses it
        at once (DeadlineUnmeetable, with ``estimated_start_at``); ``retention`` deletes
        its data that long after it ends instead of after the server's retention
        (InvalidInput past the server's ``--max-retention``); ``reuse=True`` answers it at
        once from a completed request of yours with the same endpoint, model version and
        inputs while that one is kept (its status names it as ``reused_from``).
        """
        params = webhook_params(webhook, webhook_events_filter)
        headers = scheduling_headers(priority, deadline, retention, reuse)
        return self._drive(self._infer_async_flow(endpoint_url, inputs, idempotency_key, headers, params))

    def infer_batch(
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
        each request, as :meth:`infer_async` takes them."""
        headers = scheduling_headers(priority, deadline, retention, reuse)
        return self._drive(self._infer_batch_flow(endpoint_url, inputs, idempotency_key, headers))

    def is_future_ready(self, future: InferenceFuture) -> bool:
        """True once completed; raises InferenceFailed or RequestCancelled if it never will be."""
        return self._drive(self._is_future_ready_flow(future))

    def get_future_result(self, future: InferenceFuture) -> dict[str, Any] | None:
        """The outputs if completed, None while pending or running; raises like is_future_ready."""
        return self._drive(self._get_future_result_flow(future))

    def wait(self, future: InferenceFuture, timeout: float | None = None) -> dict[str, Any]:
        """Long-poll until the request ends and return its outputs; WaitTimeout after ``timeout`` s."""
        return self._drive(self._wait_flow(future, timeout))

    def upload(self, file: Uploadable) -> FileRef:
        """Upload a file (a path, an open binary file, or an ``inferq.types`` file), streamed;
        pass the answer (or its ``.ref``) as any file input of your requests. Files expire
        with the server's retention (24 h by default)."""
        return self._drive(self._upload_flow(file))

    def retry(
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
        return self._drive(self._retry_flow(future, headers))

    def retry_many(
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
        return self._drive(self._retry_many_flow(query, headers))

    def cancel(self, future: InferenceFuture) -> None:
        """Cancel a pending or running request: running work stops (a model that does not
        stop within the server's ``--cancel-grace`` has its worker replaced); Conflict if it
        already completed or failed."""
        self._drive(self._cancel_flow(future))

    def events(self, future: InferenceFuture) -> Iterator[RequestEvent]:
        """The request's changes as they happen (queued with its position, running,
        progress), ending with its final state; a dropped stream is resumed."""
        reconnects = Reconnects(self.retry_for)
        while True:
            try:
                with connect_sse(self._http, "GET", events_url(future), timeout=STREAM_TIMEOUT) as source:
                    if source.response.status_code >= 400:
                        source.response.read()
                        decode(source.response)
                    for event in filter(None, map(parse, source.iter_sse())):
                        reconnects.received()
                        yield event
                        if event.is_final:
                            return
                raise httpx.RemoteProtocolError("the event stream ended before the request did")
            except httpx.TransportError as exc:
                time.sleep(reconnects.dropped(exc))

    def stream(self, future: InferenceFuture) -> Iterator[Any]:
        """The pieces of output the request's model saves as it goes (a transcript's
        segments), each once, as they come, from its first; ends when the request completes
        (its ``result`` has them all), raises as ``result`` does if it fails or is cancelled.
        A model that saves no checkpoints yields nothing."""
        pieces = Pieces()
        for event in self.events(future):
            yield from pieces.new(event)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _drive(self, flow: Flow[T]) -> T:
        """Run a flow: send each call it yields, feed back the answer (or the transport error)."""
        try:
            step = next(flow)
            while True:
                try:
                    reply = self._perform(step)
                except httpx.TransportError as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except httpx.TransportError as exc:
            raise unreachable(exc) from exc

    def _perform(self, step: Step) -> httpx.Response | None:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        return self._http.request(step.method, step.url, **step.options(self.timeout))
