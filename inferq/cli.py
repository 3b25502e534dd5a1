"""The ``inferq`` command: flags map onto Settings and the functions that do the work."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from inferq.cli_requests import infer, requests
from inferq.cli_transcribe import transcribe
from inferq.cli_types import DURATION, NETWORKS, SIZE
from inferq.domain.clock import isoformat
from inferq.policy import DEFAULT_MAX_BODY_BYTES
from inferq.service.loader import EndpointSpecError, parse_endpoints
from inferq.settings import Settings, default_backend_url

F = TypeVar("F", bound=Callable[..., Any])


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def backend_option(fn: F) -> F:
    return click.option(
        "--backend",
        envvar="INFERQ_BACKEND",
        default=default_backend_url,
        show_default="~/.local/share/inferq/inferq.db",
        help="sqlite:///path (embedded default) or redis://host:port/db.",
    )(fn)


def queue_options(fn: F) -> F:
    """Options that gateways and workers must agree on."""
    options = [
        click.option(
            "--retention",
            "retention_s",
            type=DURATION,
            default="24h",
            envvar="INFERQ_RETENTION",
            show_default=True,
            help="Keep inputs and outputs this long after a request ends.",
        ),
        click.option(
            "--lease",
            "lease_s",
            type=DURATION,
            default="30s",
            envvar="INFERQ_LEASE",
            show_default=True,
            help="A worker silent this long loses its requests to another.",
        ),
        click.option(
            "--max-attempts",
            type=click.IntRange(1),
            default=3,
            envvar="INFERQ_MAX_ATTEMPTS",
            show_default=True,
            help="Lost workers a request survives before it fails.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1),
            default=1,
            envvar="INFERQ_CONCURRENCY",
            show_default=True,
            help="Requests each worker runs at once.",
        ),
        click.option(
            "--timeout",
            "timeout_s",
            type=DURATION,
            default=None,
            envvar="INFERQ_TIMEOUT",
            help="Fail a request running longer (for Services that set no timeout_s) and replace its worker.",
        ),
        click.option(
            "--max-memory",
            "max_memory_bytes",
            type=SIZE,
            default=None,
            envvar="INFERQ_MAX_MEMORY",
            help="Memory of each worker process (512M, 2G): beyond it a request fails with MemoryError.",
        ),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), fn)


def _endpoints(spec: str) -> dict[str, str]:
    try:
        return parse_endpoints(spec)
    except EndpointSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--endpoints") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default="info", envvar="INFERQ_LOG_LEVEL", show_default=True)
def main(log_level: str) -> None:
    """inferq: submit a request, get a future at once, collect the result when it is ready."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request's full URL at INFO: a webhook's may hold its receiver's secret
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


@main.command()
@click.option("--host", default="127.0.0.1", envvar="INFERQ_HOST", show_default=True)
@click.option("--port", type=int, default=8000, envvar="INFERQ_PORT", show_default=True)
@backend_option
@click.option(
    "--endpoints",
    default="whisper,echo",
    envvar="INFERQ_ENDPOINTS",
    show_default=True,
    help="Comma-separated: built-in names, or NAME=module:Class / NAME=path/file.py:Class.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    envvar="INFERQ_WORKERS",
    show_default=True,
    help="Worker processes per endpoint.",
)
@click.option("--no-workers", is_flag=True, envvar="INFERQ_NO_WORKERS", help="Run the gateway alone.")
@click.option("--public-url", envvar="INFERQ_PUBLIC_URL", help="Base of poll URLs when behind a proxy.")
@click.option(
    "--sync-timeout",
    "sync_timeout_s",
    type=DURATION,
    default="300s",
    envvar="INFERQ_SYNC_TIMEOUT",
    show_default=True,
    help="How long a synchronous predict waits before answering 504.",
)
@click.option(
    "--max-body",
    "max_body_bytes",
    type=click.IntRange(1),
    default=DEFAULT_MAX_BODY_BYTES,
    envvar="INFERQ_MAX_BODY",
    show_default=True,
    help="Largest request body in bytes (413 above).",
)
@click.option(
    "--max-queue",
    type=click.IntRange(1),
    default=None,
    envvar="INFERQ_MAX_QUEUE",
    help="Pending requests per endpoint; beyond, submits get 429 with Retry-After.",
)
@click.option(
    "--max-queue-per-token",
    type=click.IntRange(1),
    default=None,
    envvar="INFERQ_MAX_QUEUE_PER_TOKEN",
    help="Pending and running requests per token, all endpoints together (429 beyond).",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    envvar="INFERQ_RATE_LIMIT",
    help="Submits per second per token, in each gateway process (429 beyond).",
)
@click.option(
    "--webhook-allow",
    type=NETWORKS,
    default="",
    envvar="INFERQ_WEBHOOK_ALLOW",
    help="Comma-separated networks (10.0.0.0/8,127.0.0.1) webhooks may reach though not public.",
)
@click.option(
    "--webhook-retry-base",
    "webhook_retry_base_s",
    type=DURATION,
    default="1s",
    envvar="INFERQ_WEBHOOK_RETRY_BASE",
    show_default=True,
    help="Unit of the webhook retry schedule: retries after 5, 30, 120, ... 28800 of it (16 h at 1s).",
)
@queue_options
def serve(endpoints: str, no_workers: bool, **options: Any) -> None:
    """Run the gateway and a worker per endpoint.

    \b
    Examples:
      inferq serve                                  # whisper and echo on the embedded store
      inferq serve --endpoints echo --port 9000
      inferq serve --no-workers --backend redis://10.0.0.5:6379/0
    """
    from inferq.serve import serve as run_serve

    settings = Settings(endpoints=_endpoints(endpoints), run_workers=not no_workers, **options)
    _run(run_serve(settings, announce=click.echo))


@main.command()
@backend_option
@click.option(
    "--endpoint", required=True, envvar="INFERQ_ENDPOINT", help="A built-in name, or NAME=module:Class."
)
@click.option(
    "--worker-id",
    default=None,
    hidden=True,
    help="Set by `inferq serve`, which releases its requests if it dies.",
)
@queue_options
def worker(endpoint: str, worker_id: str | None, **options: Any) -> None:
    """Run one worker for ENDPOINT (scale-out: as many as you like, on any machine).

    \b
    Example:
      inferq worker --backend redis://10.0.0.5:6379/0 --endpoint whisper
    """
    from inferq.worker.process import run_worker

    (name, target), *_ = _endpoints(endpoint).items()
    _run(run_worker(Settings(endpoints={name: target}, **options), name, target, worker_id))


@main.group()
def token() -> None:
    """Create, list and revoke API tokens."""


async def _with_backend(url: str, action: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    from inferq.backends import open_backend

    backend = open_backend(url)
    await backend.start()
    try:
        return await action(backend)
    finally:
        await backend.close()


@token.command("create")
@backend_option
@click.option("--name", default="default", show_default=True)
@click.option("--admin", is_flag=True, help="Also manage tokens, read /metrics, see every tenant's requests.")
def token_create(backend: str, name: str, admin: bool) -> None:
    """Mint a token; it is shown once, alone on the last line."""
    info, secret = _run(_with_backend(backend, lambda b: b.create_token(name, admin=admin)))
    click.echo(f"created {'admin' if info.admin else 'user'} token {info.id} ({info.name})")
    click.echo(secret)


@token.command("list")
@backend_option
def token_list(backend: str) -> None:
    """Show every token's id, name, kind (admin or user) and state (never the token itself)."""
    for info in _run(_with_backend(backend, lambda b: b.list_tokens())):
        state = f"revoked {isoformat(info.revoked_at)}" if info.revoked_at else "active"
        kind = "admin" if info.admin else "user"
        click.echo(f"{info.id}\t{info.name}\t{isoformat(info.created_at)}\t{state}\t{kind}")


@token.command("revoke")
@backend_option
@click.argument("token_id")
def token_revoke(backend: str, token_id: str) -> None:
    """Revoke TOKEN_ID at once: requests made with it stop being served."""
    if not _run(_with_backend(backend, lambda b: b.revoke_token(token_id))):
        raise click.ClickException(f"no active token {token_id!r}")
    click.echo(f"revoked {token_id}")


# Client commands: they talk to a server over HTTP through the SDK, never to a backend.
main.add_command(transcribe)
main.add_command(requests)
main.add_command(infer)
