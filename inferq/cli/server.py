"""``inferq serve`` and ``inferq worker``: the processes that do the work, over a backend."""

from __future__ import annotations

from typing import Any

import click

from inferq.cli.options import backend_option, given, setting_options, worker_options
from inferq.cli.running import run
from inferq.service.loader import EndpointSpecError, load_service, parse_endpoints
from inferq.settings import Settings


def _endpoints(spec: str) -> dict[str, str]:
    """The endpoint table, each Service imported once here: a bad one is a usage error,
    before a store is opened or a token minted."""
    try:
        table = parse_endpoints(spec)
        for target in table.values():
            load_service(target)
    except EndpointSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--endpoints") from None
    return table


@click.command()
@setting_options("host", "port", "backend")
@click.option(
    "--endpoints",
    default="whisper,echo",
    envvar="INFERQ_ENDPOINTS",
    show_default=True,
    help="Comma-separated: built-in names, or NAME=module:Class / NAME=path/file.py:Class.",
)
@setting_options("workers")
@click.option("--no-workers", is_flag=True, envvar="INFERQ_NO_WORKERS", help="Run the gateway alone.")
@click.option(
    "--allow-url-inputs",
    is_flag=True,
    envvar="INFERQ_ALLOW_URL_INPUTS",
    help="File inputs may be http(s) URLs, fetched by the worker (public addresses, and --webhook-allow's).",
)
@setting_options(
    "public_url",
    "sync_timeout_s",
    "target_wait_s",
    "max_body_bytes",
    "read_timeout_s",
    "max_connections",
    "max_queue",
    "max_queue_per_token",
    "rate_limit",
    "webhook_retry_base_s",
    "max_retention_s",
)
@worker_options
def serve(endpoints: str, no_workers: bool, allow_url_inputs: bool, **options: Any) -> None:
    """Run the gateway and a worker per endpoint.

    \b
    Examples:
      inferq serve                                  # whisper and echo on the embedded store
      inferq serve --endpoints echo --port 9000
      inferq serve --no-workers --backend redis://10.0.0.5:6379/0
    """
    from inferq.serve import PortInUse
    from inferq.serve import serve as run_serve

    settings = Settings(
        endpoints=_endpoints(endpoints),
        run_workers=not no_workers,
        allow_url_inputs=allow_url_inputs,
        **given(options),
    )
    try:
        run(run_serve(settings, announce=click.echo))
    except PortInUse as exc:
        raise click.ClickException(str(exc)) from None


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
@worker_options
def worker(endpoint: str, worker_id: str | None, **options: Any) -> None:
    """Run one worker for ENDPOINT (scale-out: as many as you like, on any machine).

    \b
    Example:
      inferq worker --backend redis://10.0.0.5:6379/0 --endpoint whisper
    """
    from inferq.worker.process import run_worker

    (name, target), *_ = _endpoints(endpoint).items()
    run(run_worker(Settings(endpoints={name: target}, **given(options)), name, target, worker_id))
