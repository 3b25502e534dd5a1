"""What Client and AsyncClient share, with no I/O: settings, URLs, and every call as a flow.

A *flow* is a generator that yields :class:`Call` (send this request) or :class:`Sleep`
steps, receives each call's :class:`httpx.Response` (or has the transport error thrown
in), and returns the method's result. Multi-step logic (collect a result, wait for a
request, retry a health check) is written here once; the clients only drive flows,
one with blocking calls and one with awaits (the httpx ``auth_flow`` pattern).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

import httpx

from inferq._version import __version__
from inferq.domain.durations import parse_duration
from inferq.domain.scheduling import PRIORITIES
from inferq.domain.status import Status
from inferq.errors import (
    APIError,
    Conflict,
    GatewayTimeout,
    RequestCancelled,
    WaitTimeout,
    request_failure,
)
from inferq.protocol import options
from inferq.protocol.limits import MAX_BATCH_INPUTS, MAX_LONG_POLL_S
from inferq.protocol.requests import TERMINAL_STATUSES
from inferq.sdk.files import UPLOAD_PART, FileRef, Part, is_file, multipart, part, plain
from inferq.sdk.future import InferenceFuture
from inferq.sdk.retry import DEFAULT_RETRY_FOR_S, NO_RETRY, RETRY_FOR, parse_retry_after

log = logging.getLogger("inferq.sdk")

T = TypeVar("T")

#: OctoAI's client waits this long for any answer, to ride out cold starts.
DEFAULT_TIMEOUT_S = 900.0
#: A long poll's read timeout is its wait plus this, so the server answers first.
LONG_POLL_MARGIN_S = 15.0
#: How often ``health_check`` asks again when the server gives no ``Retry-After``.
HEALTH_INTERVAL_S = 1.0
#: The header that makes ``/predict`` answer 202 with a future (OctoAI's name).
ASYNC_HEADER = {"X-OctoAI-Async": "1"}
#: A duration as the SDK takes one: seconds, or a string such as ``"10m"``, ``"90s"``, ``"1h"``.
Duration = float | str


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request a flow wants sent (with the client's auth, retries and timeouts)."""

    method: str
    url: str
    json: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds for each phase instead of the client's timeout, and for reading the answer.
    timeout: float | None = None
    read_timeout: float | None = None
    #: False for calls whose flow retries on its own terms (the health check).
    retry: bool = True
    #: A ``multipart/form-data`` body instead of JSON: part name → part.
    files: Mapping[str, Part] | None = None
    #: Seconds to keep retrying instead of the client's ``retry_for`` (what is left of a wait).
    retry_for: float | None = None

    def options(self, default_timeout: float) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.request`` / ``httpx.AsyncClient.request``."""
        timeout = self.timeout or default_timeout
        body = {"json": self.json} if self.files is None else {"files": dict(self.files)}
        return {
            **body,
            "params": self.params,
            "headers": self.headers,
            "timeout": httpx.Timeout(timeout, read=self.read_timeout or timeout),
            "extensions": self._extensions(),
        }

    def _extensions(self) -> dict[str, Any]:
        if not self.retry:
            return {NO_RETRY: False}
        return {} if self.retry_for is None else {RETRY_FOR: self.retry_for}


@dataclass(frozen=True, slots=True)
class Sleep:
    """A pause a flow asks for (between health checks)."""

    seconds: float


Step = Call | Sleep
Flow = Generator[Step, "httpx.Response | None", T]


def resolve_token(token: str | None) -> str | None:
    """The argument, then ``INFERQ_TOKEN``, then ``OCTOAI_TOKEN`` (so OctoAI scripts run as is)."""
    return token or os.environ.get("INFERQ_TOKEN") or os.environ.get("OCTOAI_TOKEN") or None


def decode(response: httpx.Response | None) -> Any:
    """The JSON body of a success, or the server's error rebuilt as its :class:`APIError` class."""
    assert response is not None, "a Call is always answered with a response"
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        raise APIError.from_body(response.status_code, body)
    return body


def check_state(state: dict[str, Any]) -> bool:
    """True when completed; raise for failed or cancelled, so no caller waits forever."""
    status = state.get("status")
    if status == Status.FAILED:
        error = state.get("error") or {}
        raise request_failure(error.get("type"), error.get("message"), str(state.get("response_id")))
    if status == Status.CANCELLED:
        why = (state.get("error") or {}).get("message")  # its deadline's, when that cancelled it
        raise RequestCancelled(
            f"request {state.get('response_id')} was cancelled" + (f": {why}" if why else "")
        )
    return status == Status.COMPLETED


def webhook_params(webhook: str | None, events: Sequence[str] | str | None) -> dict[str, str]:
    """The query parameters of a submit that asks for webhook deliveries (the server checks them)."""
    params = {} if webhook is None else {"webhook": webhook}
    if events is not None:
        params["webhook_events_filter"] = events if isinstance(events, str) else ",".join(events)
    return params


def scheduling_headers(
    priority: str | None = None,
    deadline: Duration | None = None,
    retention: Duration | None = None,
    reuse: bool = False,
) -> dict[str, str]:
    """The headers of a submit's scheduling options (None: the server's default). They are
    checked here, so a typo raises ValueError naming the option before any call is made."""
    headers: dict[str, str] = {options.PREFER: options.REUSE} if reuse else {}
    if priority is not None:
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
        headers[options.PRIORITY] = str(priority)
    for header, name, value in (
        (options.CANCEL_AFTER, "deadline", deadline),
        (options.RETENTION, "retention", retention),
    ):
        if value is not None:
            headers[header] = _duration(name, value)
    return headers


def retry_query(
    response_ids: Sequence[str] | None,
    status: str | None,
    endpoint: str | None,
    since: datetime | None,
    limit: int | None,
) -> dict[str, Any]:
    """The body of a bulk retry: the ids, or the filter's fields that are given."""
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be an aware datetime (with its timezone)")
    fields = {
        "response_ids": None if response_ids is None else list(response_ids),
        "status": status,
        "endpoint": endpoint,
        "since": None if since is None else since.isoformat(),
        "limit": limit,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _duration(name: str, value: Duration) -> str:
    """A duration as its header carries it: a string as written, seconds as a plain number."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return value.strip() if isinstance(value, str) else f"{seconds:.6f}".rstrip("0").rstrip(".")


def long_poll(future: InferenceFuture, wait: float, retry_for: float | None = None) -> Call:
    """``GET poll_url?wait=S``: answers when the request ends or after ``S`` seconds; an
    outage is retried for ``retry_for`` seconds (the client's default when None)."""
    wait = max(0.001, min(wait, MAX_LONG_POLL_S))
    params = {"wait": f"{wait:.3f}"}
    return Call(
        "GET", future.poll_url, params=params, read_timeout=wait + LONG_POLL_MARGIN_S, retry_for=retry_for
    )


def settle_flow(
    future: InferenceFuture, timeout: float | None, stopped: Callable[[], bool] = lambda: False
) -> Flow[dict[str, Any] | None]:
    """Long-poll until the request is terminal: its state, or None once ``timeout`` ran out
    (or ``stopped()`` says the caller lost interest)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not stopped():
        remaining = MAX_LONG_POLL_S if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return None
        # a server restarting mid-wait is waited for, but never past the caller's deadline
        retry_for = None if deadline is None else remaining
        state: dict[str, Any] = decode((yield long_poll(future, remaining, retry_for)))
        if state.get("status") in TERMINAL_STATUSES:
            return state
    return None


class BaseClient:
    """Settings and request flows; :class:`Client` and :class:`AsyncClient` add the I/O.

    ``url`` arguments may be absolute (``http://host:8000/whisper/predict``, as in OctoAI
    scripts), a path (``/whisper/predict``) or an endpoint name (``whisper``), the last
    two relative to ``base_url`` (argument, then ``INFERQ_BASE_URL``).
    """

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry_for: float = DEFAULT_RETRY_FOR_S,
    ) -> None:
        self.token = resolve_token(token)
        self.base_url = (base_url or os.environ.get("INFERQ_BASE_URL") or "").rstrip("/") or None
        self.timeout = timeout
        self.retry_for = retry_for
        if self.token is None:
            log.warning("no token: pass token= or set INFERQ_TOKEN; the server will answer 401")

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"inferq-python/{__version__}", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _url(self, url: str, action: str) -> str:
        """An absolute URL for ``url``; a bare endpoint name gets ``/{action}`` appended."""
        if url.startswith(("http://", "https://")):
            return url
        if self.base_url is None:
            raise ValueError(f"{url!r} is not an absolute URL: pass base_url= or set INFERQ_BASE_URL")
        path = url.strip("/")
        if "/" not in path:
            path = f"{path}/{action}"
        return f"{self.base_url}/{path}"

    def _future(self, body: Mapping[str, Any]) -> InferenceFuture:
        return InferenceFuture.model_validate(body).bind(self)

    # flows ---------------------------------------------------------------------

    def _health_check_flow(self, url: str, timeout: float) -> Flow[int]:
        deadline = time.monotonic() + timeout
        url = self._url(url, "healthcheck")
        while True:
            remaining = deadline - time.monotonic()
            try:
                response = yield Call("GET", url, timeout=max(1.0, min(remaining, 30.0)), retry=False)
            except httpx.TransportError:
                if time.monotonic() >= deadline:
                    raise
                pause = HEALTH_INTERVAL_S
            else:
                assert response is not None
                if response.status_code < 400:
                    return response.status_code
                if response.status_code != 429 and response.status_code < 500:
                    decode(response)
                if time.monotonic() >= deadline:
                    return response.status_code
                pause = parse_retry_after(response.headers.get("retry-after")) or HEALTH_INTERVAL_S
            yield Sleep(max(0.0, min(pause, deadline - time.monotonic())))

    def _submit_flow(
        self,
        url: str,
        inputs: Mapping[str, Any],
        key: str | None,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
    ) -> Flow[Any]:
        """A POST with an idempotency key, so the retry transport may repeat it safely; as
        multipart, files streamed from disk, when an input is a file (:mod:`inferq.sdk.files`)."""
        headers = {"Idempotency-Key": key or str(uuid.uuid4()), **headers}
        with contextlib.ExitStack() as files:
            parts = multipart(inputs, files)
            body = {name: plain(value) for name, value in inputs.items()} if parts is None else None
            call = Call(
                "POST",
                self._url(url, "predict"),
                json=body,
                params=params or None,
                headers=headers,
                files=parts,
            )
            return decode((yield call))

    def _files_url(self, near: str | None = None) -> str:
        """``/v1/files`` on the server of ``near`` (an absolute endpoint URL), else of ``base_url``."""
        if near is not None and near.startswith(("http://", "https://")):
            return str(httpx.URL(near).copy_with(path="/v1/files", query=None))
        return self._url("/v1/files", "")

    def _upload_flow(self, file: Any, near: str | None = None) -> Flow[FileRef]:
        """``POST /v1/files`` of a path, an open file or an ``inferq.types`` file."""
        with contextlib.ExitStack() as files:
            upload = {UPLOAD_PART: part(file, UPLOAD_PART, files)}
            body = decode((yield Call("POST", self._files_url(near), files=upload)))
        return FileRef.model_validate(body)

    def _infer_flow(
        self, url: str, inputs: Mapping[str, Any], key: str | None, headers: dict[str, str]
    ) -> Flow[dict[str, Any]]:
        started = time.monotonic()
        try:
            return cast("dict[str, Any]", (yield from self._submit_flow(url, inputs, key, headers)))
        except GatewayTimeout as exc:
            poll_url = exc.details.get("poll_url")
            if not poll_url:
                raise
            # The server stopped holding the call, the request goes on: wait for it by long polls.
            future = InferenceFuture(response_id=str(exc.details.get("response_id")), poll_url=str(poll_url))
            remaining = self.timeout - (time.monotonic() - started)
            return (yield from self._wait_flow(future, remaining))

    def _infer_async_flow(
        self,
        url: str,
        inputs: Mapping[str, Any],
        key: str | None,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
    ) -> Flow[InferenceFuture]:
        body = yield from self._submit_flow(url, inputs, key, {**ASYNC_HEADER, **headers}, params)
        return self._future(body)

    def _infer_batch_flow(
        self, url: str, inputs: Sequence[Mapping[str, Any]], key: str | None, headers: dict[str, str]
    ) -> Flow[list[InferenceFuture]]:
        """``POST /{endpoint}/batch`` in slices of the server's limit, each keyed so its
        retries queue nothing twice; the futures come back in the order of ``inputs``.
        Files among the inputs are uploaded first and sent by reference."""
        key = key or str(uuid.uuid4())
        batch_url = self._batch_url(url)
        futures: list[InferenceFuture] = []
        for start in range(0, len(inputs), MAX_BATCH_INPUTS):
            chunk = []
            for item in inputs[start : start + MAX_BATCH_INPUTS]:
                values = dict(item)
                for name, value in item.items():
                    if is_file(value):
                        values[name] = (
                            yield from self._upload_flow(value, batch_url.rsplit("/", 2)[0] + "/v1")
                        ).ref
                chunk.append({name: plain(value) for name, value in values.items()})
            keyed = {"Idempotency-Key": f"{key}.{start}", **headers}
            body = decode((yield Call("POST", batch_url, json={"inputs": chunk}, headers=keyed)))
            futures.extend(self._future(accepted) for accepted in body["results"])
        return futures

    def _batch_url(self, url: str) -> str:
        """The batch route beside a predict URL (``…/whisper/predict`` → ``…/whisper/batch``)."""
        for action in ("/predict", "/infer"):
            if url.rstrip("/").endswith(action):
                return self._url(url.rstrip("/")[: -len(action)] + "/batch", "batch")
        return self._url(url, "batch")

    def _state_flow(self, future: InferenceFuture) -> Flow[dict[str, Any]]:
        return cast("dict[str, Any]", decode((yield Call("GET", future.poll_url))))

    def _is_future_ready_flow(self, future: InferenceFuture) -> Flow[bool]:
        return check_state((yield from self._state_flow(future)))

    def _result_flow(self, future: InferenceFuture, state: dict[str, Any]) -> Flow[dict[str, Any] | None]:
        if not check_state(state):
            return None
        url = state.get("response_url") or f"{future.poll_url.rstrip('/')}/response"
        return cast("dict[str, Any]", decode((yield Call("GET", url))))

    def _get_future_result_flow(self, future: InferenceFuture) -> Flow[dict[str, Any] | None]:
        state = yield from self._state_flow(future)
        return (yield from self._result_flow(future, state))

    def _wait_flow(self, future: InferenceFuture, timeout: float | None) -> Flow[dict[str, Any]]:
        ended = future.ended
        if ended is not None and check_state(ended) and "output" in ended:
            return cast("dict[str, Any]", ended["output"])
        state = yield from settle_flow(future, timeout)
        if state is None:
            raise WaitTimeout(f"request {future.response_id} did not end within {timeout} s; it goes on")
        result = yield from self._result_flow(future, state)
        assert result is not None
        return result

    def _retry_flow(self, future: InferenceFuture, headers: dict[str, str]) -> Flow[InferenceFuture]:
        """``POST …/retry``, keyed so that the transport's retries make one new request."""
        keyed = {"Idempotency-Key": str(uuid.uuid4()), **headers}
        response = yield Call("POST", f"{future.poll_url.rstrip('/')}/retry", headers=keyed)
        body = decode(response)
        assert response is not None
        return self._future({"response_id": body["response_id"], "poll_url": response.headers["location"]})

    def _retry_many_flow(
        self, query: dict[str, Any], headers: dict[str, str]
    ) -> Flow[dict[str, InferenceFuture | APIError]]:
        """``POST /v1/requests/retry``, sent once (a repeat by id would retry twice)."""
        call = Call("POST", self._url("/v1/requests/retry", ""), json=query, headers=headers, retry=False)
        results = decode((yield call))["results"]
        requests = self._url("/v1/requests", "")

        def outcome(result: dict[str, Any]) -> InferenceFuture | APIError:
            if "request" not in result:
                return APIError.from_detail(result["error"])
            response_id = result["request"]["response_id"]
            return self._future({"response_id": response_id, "poll_url": f"{requests}/{response_id}"})

        return {result["retry_of"]: outcome(result) for result in results}

    def _cancel_flow(self, future: InferenceFuture) -> Flow[None]:
        try:
            decode((yield Call("POST", f"{future.poll_url.rstrip('/')}/cancel")))
        except Conflict as exc:
            if exc.details.get("status") != Status.CANCELLED:
                raise
