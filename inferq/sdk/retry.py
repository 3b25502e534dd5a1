"""Retries with backoff as an httpx transport wrapper, so clients never loop themselves.

The decision is pure (:class:`RetryPolicy`): attempt number, status and ``Retry-After``
in, a delay or "stop" out. The two transports only drive it, one per I/O style.

What is retried, for up to a minute (a server restarting): connection errors, 429 and 5xx but 501. What is not: inferq's definitive
answers (502 ``inference_failed``: the model raised; 504 ``timeout``: the request goes on
and has a future to poll; 429 ``deadline_unmeetable``: a submit sent again later would
move the caller's deadline), and a POST without an ``Idempotency-Key`` header, since only
the key guarantees a retried submit never runs the request twice.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import anyio
import httpx

from inferq.errors import ServerUnreachable

__all__ = ["AsyncRetryTransport", "RetryPolicy", "RetryTransport", "unreachable"]

#: Transport failures that are safe to retry: the request did not get an answer, and
#: waiting on the same socket longer (a read timeout) is the caller's choice, not ours.
RETRYABLE_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
#: Error types inferq sends with 429/502/504 that are final answers, not passing trouble.
DEFINITIVE_TYPES = frozenset({"inference_failed", "timeout", "deadline_unmeetable"})
#: Methods whose repetition cannot run anything twice.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: The connection pool: as many kept alive as may be open, since httpx's default (20 of 100)
#: closes each connection that goes idle while more than 20 are open, and a client with
#: many calls in flight would otherwise reconnect for most of them.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
#: A request with this extension set to False is sent once (a caller that loops itself).
NO_RETRY = "inferq.retry"


#: How long a call keeps retrying by default: longer than a server takes to restart.
DEFAULT_RETRY_FOR_S = 60.0
#: A request with this extension retries for that many seconds instead of the policy's
#: ``retry_for`` (a wait retries only within what is left of its caller's timeout).
RETRY_FOR = "inferq.retry_for"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to wait before trying again.

    ``attempt`` counts from 1 (the first try). The backoff before retry ``n`` is
    ``base_delay * 2 ** (n - 1)``, capped at ``max_delay``, and jitter takes away up to
    ``jitter`` of it at random, so many clients spread out but never wait longer than
    the cap. A ``Retry-After`` from the server wins over the backoff (still capped).
    Retries stop once the next one would start more than ``retry_for`` seconds after the
    first try, or after ``max_attempts`` tries when that is set: a server that restarts
    within ``retry_for`` is ridden out, one that is gone is reported.
    """

    retry_for: float = DEFAULT_RETRY_FOR_S
    max_attempts: int | None = None
    base_delay: float = 0.5
    max_delay: float = 10.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0 or self.retry_for < 0:
            raise ValueError("retry_for, base_delay and max_delay must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def delay(
        self,
        attempt: int,
        status: int | None,
        retry_after: str | None = None,
        *,
        elapsed: float = 0.0,
        retry_for: float | None = None,
        now: datetime | None = None,
        rand: float | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to stop.

        ``status`` is None for a connection error; ``elapsed`` is the time since the first
        try, and ``retry_for`` replaces the policy's for this call. ``now`` and ``rand``
        (in [0, 1)) are the clock and the dice, injectable so the function stays pure under test.
        """
        if (self.max_attempts is not None and attempt >= self.max_attempts) or not retryable_status(status):
            return None
        hinted = parse_retry_after(retry_after, now)
        if hinted is not None:
            wait = min(hinted, self.max_delay)
        else:
            backoff = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
            wait = backoff * (1 - self.jitter * (random.random() if rand is None else rand))
        if elapsed + wait > (self.retry_for if retry_for is None else retry_for):
            return None
        return wait


def unreachable(error: httpx.TransportError) -> ServerUnreachable:
    """What a transport error that outlived the retries surfaces as: an inferq error."""
    try:
        where = f"{error.request.url.scheme}://{error.request.url.netloc.decode()}"
    except RuntimeError:  # an error raised without its request
        where = "the server"
    return ServerUnreachable(f"cannot reach {where}: {str(error) or type(error).__name__}")


def retryable_status(status: int | None) -> bool:
    """Passing trouble: no answer, 429, a 5xx; but 501, "not implemented", never passes."""
    return status is None or status == 429 or (status >= 500 and status != 501)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None if absent or bad."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def may_repeat(request: httpx.Request) -> bool:
    """Whether sending ``request`` again is harmless: an idempotent method or a keyed POST."""
    if request.extensions.get(NO_RETRY) is False:
        return False
    return request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers


def is_definitive(response: httpx.Response) -> bool:
    """A 429/502/504 that inferq meant: the body names one of :data:`DEFINITIVE_TYPES`."""
    if response.status_code not in (429, 502, 504):
        return False
    try:
        error = json.loads(response.content).get("error", {})
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and error.get("type") in DEFINITIVE_TYPES


class _Retrying:
    """The part both transports share: which answers to look at, and the delay for them."""

    def __init__(self, policy: RetryPolicy | None, max_attempts: int | None, retry_for: float | None) -> None:
        policy = policy or RetryPolicy()
        if max_attempts is not None:
            policy = dataclasses.replace(policy, max_attempts=max_attempts)
        if retry_for is not None:
            policy = dataclasses.replace(policy, retry_for=retry_for)
        self.policy = policy

    def needs_body(self, request: httpx.Request, response: httpx.Response) -> bool:
        """Whether the answer might be retried (then its small error body is read to decide)."""
        return may_repeat(request) and retryable_status(response.status_code)

    def after_response(
        self, request: httpx.Request, response: httpx.Response, attempt: int, started: float
    ) -> float | None:
        if not self.needs_body(request, response) or is_definitive(response):
            return None
        retry_after = response.headers.get("retry-after")
        return self._delay(request, attempt, response.status_code, retry_after, started)

    def after_error(
        self, request: httpx.Request, error: Exception, attempt: int, started: float
    ) -> float | None:
        if not may_repeat(request) or not isinstance(error, RETRYABLE_ERRORS):
            return None
        return self._delay(request, attempt, None, None, started)

    def _delay(
        self,
        request: httpx.Request,
        attempt: int,
        status: int | None,
        retry_after: str | None,
        started: float,
    ) -> float | None:
        elapsed = time.monotonic() - started
        retry_for = request.extensions.get(RETRY_FOR)
        return self.policy.delay(attempt, status, retry_after, elapsed=elapsed, retry_for=retry_for)


class RetryTransport(_Retrying, httpx.BaseTransport):
    """Wraps a sync transport (default :class:`httpx.HTTPTransport`) with retries."""

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        max_attempts: int | None = None,
        retry_for: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(policy, max_attempts, retry_for)
        self.transport = transport or httpx.HTTPTransport(limits=POOL_LIMITS)
        self.sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt, started = 1, time.monotonic()
        while True:
            try:
                response = self.transport.handle_request(request)
            except httpx.TransportError as exc:
                delay = self.after_error(request, exc, attempt, started)
                if delay is None:
                    raise
            else:
                if not self.needs_body(request, response):
                    return response
                response.read()
                delay = self.after_response(request, response, attempt, started)
                if delay is None:
                    return response
                response.close()
            self.sleep(delay)
            attempt += 1

    def close(self) -> None:
        self.transport.close()


class AsyncRetryTransport(_Retrying, httpx.AsyncBaseTransport):
    """Wraps an async transport (default :class:`httpx.AsyncHTTPTransport`) with retries."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        max_attempts: int | None = None,
        retry_for: float | None = None,
    ) -> None:
        super().__init__(policy, max_attempts, retry_for)
        self.transport = transport or httpx.AsyncHTTPTransport(limits=POOL_LIMITS)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt, started = 1, time.monotonic()
        while True:
            try:
                response = await self.transport.handle_async_request(request)
            except httpx.TransportError as exc:
                delay = self.after_error(request, exc, attempt, started)
                if delay is None:
                    raise
            else:
                if not self.needs_body(request, response):
                    return response
                await response.aread()
                delay = self.after_response(request, response, attempt, started)
                if delay is None:
                    return response
                await response.aclose()
            await anyio.sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        await self.transport.aclose()
