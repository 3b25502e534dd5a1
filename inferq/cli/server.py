"""``inferq serve`` and ``inferq worker``: the processes that do the work, over a backend."""

from __future__ import annotations

from typing import Any

import click

from inferq.cli.options import backend_option, queue_options
from inferq.cli.params import DURATION, NETWORKS
from inferq.cli.running import run
from inferq.policy import DEFAULT_MAX_BODY_BYTES
from inferq.service.loader import EndpointSpecError, parse_endpoints
from inferq.settings import Settings


def _endpoints(spec: str) -> dict[str, str]:
    try:
        return parse_endpoints(spec)
    except EndpointSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--endpoints") from None


@click.command()
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
    run(run_serve(settings, announce=click.echo))


@click.command()
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
    run(run_worker(Settings(endpoints={name: target}, **options), name, target, worker_id))
