"""The flags that set Settings, shared by the commands that run on a backend."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from inferq.cli.params import DURATION, SIZE
from inferq.settings import default_backend_url

F = TypeVar("F", bound=Callable[..., Any])


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
