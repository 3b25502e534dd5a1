"""What the client commands share: ``--url`` and ``--token``, the SDK client, exit codes,
and the scheduling options of the commands that submit.

The client commands (``transcribe``, ``requests``, ``infer``) talk to a server over HTTP
through the SDK only, never to a backend, so they run on any machine that reaches the
gateway. Every error ends as one line on stderr and a documented exit code:

    0  success
    1  the request failed, was cancelled or was refused for its inputs
       (transcribe: at least one file failed)
    2  usage error (click)
    3  the server could not be reached, or refused the call (401, 404, 503, ...)
    4  a wait ran out of time (the request goes on)
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import click

from inferq.cli.params import DURATION
from inferq.domain.scheduling import PRIORITIES
from inferq.errors import (
    APIError,
    Conflict,
    InferenceFailed,
    InferqError,
    InvalidInput,
    PayloadTooLarge,
    RequestCancelled,
    Unauthorized,
    WaitTimeout,
)
from inferq.sdk import Client, InferenceFuture
from inferq.sdk._base import Call, Flow, decode, resolve_token

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_URL = "http://127.0.0.1:8000"

EXIT_FAILED = 1
EXIT_UNREACHABLE = 3
EXIT_TIMEOUT = 4

EXIT_CODES_HELP = (
    "\b\nExit codes: 0 ok, 1 request failed or cancelled, 2 usage error,\n"
    "3 server unreachable or refused (401, 404, ...), 4 timed out."
)

#: Errors that are the request's own outcome (exit 1), not trouble reaching the server.
REQUEST_ERRORS: tuple[type[InferqError], ...] = (
    InferenceFailed,
    InvalidInput,
    PayloadTooLarge,
    RequestCancelled,
    Conflict,
)


#: A command fails fast on a server that is down or a wrong URL (the SDK's default rides out
#: a minute of outage, for programs that must not give up).
CLI_RETRY_FOR_S = 3.0


class ClientError(click.ClickException):
    """An SDK or connection error as click shows it: ``Error: ...`` and an exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click's stubs make it one code per class


class CLIClient(Client):
    """The SDK client plus the reads the commands need that the SDK has no method for.

    All are plain GETs run through the SDK's own flow driver, so they get its auth,
    retries and error classes.
    """

    def future(self, response_id: str) -> InferenceFuture:
        """The future of a request known only by its id (as ``requests`` commands get it)."""
        poll_url = f"{self.base_url}/v1/requests/{quote(response_id, safe='')}"
        return InferenceFuture(response_id=response_id, poll_url=poll_url).bind(self)

    def state(self, future: InferenceFuture) -> dict[str, Any]:
        """The request's status document (``GET /v1/requests/{id}``)."""
        return self._drive(self._state_flow(future))

    def rendered(self, future: InferenceFuture, fmt: str) -> str:
        """The outputs of an ended request in the endpoint's rendering ``fmt`` (``srt``, ...)."""
        return self._drive(_text(f"{future.poll_url.rstrip('/')}/response", {"format": fmt}))

    def list_requests(
        self, status: str | None = None, endpoint: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The caller's requests, newest first, one page (``GET /v1/requests``)."""
        filters = {"status": status, "endpoint": endpoint, "limit": str(limit)}
        params = {name: value for name, value in filters.items() if value is not None}
        rows: list[dict[str, Any]] = self._drive(_get(f"{self.base_url}/v1/requests", params))["results"]
        return rows


def _get(url: str, params: dict[str, str]) -> Flow[Any]:
    return decode((yield Call("GET", url, params=params)))


def _text(url: str, params: dict[str, str]) -> Flow[str]:
    """A GET answered with text; its error, when it fails, raised as the SDK raises it."""
    response = yield Call("GET", url, params=params)
    assert response is not None
    if response.status_code >= 400:
        decode(response)
    return response.text


def client_options(fn: F) -> F:
    """Add ``--url`` and ``--token``; the command receives a ready ``client`` instead.

    SDK and connection errors leave the command as one line and an exit code (module doc).
    """

    @click.option(
        "--url",
        envvar="INFERQ_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="The inferq server (also INFERQ_URL).",
    )
    @click.option("--token", default=None, help="API token (default: INFERQ_TOKEN, then OCTOAI_TOKEN).")
    @functools.wraps(fn)
    def command(url: str, token: str | None, **kwargs: Any) -> Any:
        _quiet_http_logs()
        with reported_errors(url), connect(url, token) as client:
            return fn(client=client, **kwargs)

    return command  # type: ignore[return-value]


def scheduling_options(fn: F) -> F:
    """Add ``--priority``, ``--deadline`` and ``--retention``; the command receives them as
    ``scheduling``, the SDK's submit keywords (None where the server's default holds)."""

    @click.option(
        "--priority",
        type=click.Choice(list(PRIORITIES)),
        help="Order among your own requests (normal when not given; urgent: admin tokens only).",
    )
    @click.option(
        "--deadline",
        type=DURATION,
        help="Cancel what has not finished this long after submit (10m, 90s); refused at once "
        "when the server estimates it cannot finish in time.",
    )
    @click.option(
        "--retention",
        type=DURATION,
        help="Delete inputs and outputs this long after the request ends, instead of after "
        "the server's retention (at most its --max-retention).",
    )
    @functools.wraps(fn)
    def command(priority: str | None, deadline: float | None, retention: float | None, **kwargs: Any) -> Any:
        scheduling = {"priority": priority, "deadline": deadline, "retention": retention}
        return fn(scheduling=scheduling, **kwargs)

    return command  # type: ignore[return-value]


def reuse_option(fn: F) -> F:
    """Add ``--reuse`` to a submit command, beneath :func:`scheduling_options`: it joins the
    ``scheduling`` keywords."""

    @click.option(
        "--reuse",
        is_flag=True,
        help="Answer at once from a completed request of yours with the same inputs, while it is kept.",
    )
    @functools.wraps(fn)
    def command(reuse: bool, scheduling: dict[str, Any], **kwargs: Any) -> Any:
        return fn(scheduling={**scheduling, "reuse": reuse}, **kwargs)

    return command  # type: ignore[return-value]


@contextlib.contextmanager
def connect(url: str, token: str | None) -> Iterator[CLIClient]:
    """A client for ``url``; fails before any call when there is no token at all."""
    token = resolve_token(token)
    if token is None:
        raise ClientError("no token: pass --token or set INFERQ_TOKEN", EXIT_UNREACHABLE)
    with CLIClient(token=token, base_url=url, retry_for=CLI_RETRY_FOR_S) as client:
        yield client


@contextlib.contextmanager
def reported_errors(url: str) -> Iterator[None]:
    """Turn SDK and connection errors into :class:`ClientError` (no traceback)."""
    try:
        yield
    except InferqError as exc:
        if isinstance(exc, APIError) and exc.details.get("foreign"):
            status = exc.http_status
            raise ClientError(
                f"not an inferq server at {url} (it answered HTTP {status})", EXIT_UNREACHABLE
            ) from None
        raise ClientError(describe(exc), exit_code(exc)) from None


def describe(exc: InferqError) -> str:
    """One line for an SDK error: the server's message, with its status and a hint for 401."""
    status = getattr(exc, "http_status", None)
    message = f"{exc} (HTTP {status})" if status else str(exc)
    if isinstance(exc, Unauthorized):
        message += "; check --token or INFERQ_TOKEN"
    return message


def exit_code(exc: InferqError) -> int:
    if isinstance(exc, WaitTimeout):
        return EXIT_TIMEOUT
    if isinstance(exc, REQUEST_ERRORS):
        return EXIT_FAILED
    return EXIT_UNREACHABLE


def _quiet_http_logs() -> None:
    """httpx logs every request at INFO, the CLI's default level: keep it for ``--log-level debug``."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)
