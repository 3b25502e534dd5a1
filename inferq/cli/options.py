"""The flags that set Settings fields, built from the fields themselves.

A flag's name and ``INFERQ_*`` variable follow from its field's name
(:func:`inferq.settings.flag`), and its default is the field's default, shown the way
users write it (``24h``): a default is changed in Settings or :mod:`inferq.policy` alone.
What is the command line's own (the type a flag parses and its help) is stated here.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import click

from inferq.cli.params import DURATION, NETWORKS, SIZE, Parsed
from inferq.settings import WORKER_FIELDS, Settings, envvar, flag

F = TypeVar("F", bound=Callable[..., Any])


class Flag(NamedTuple):
    """How the command line reads one Settings field."""

    type: click.ParamType[Any] | type | None = None
    help: str | None = None
    #: What the help shows as the default when the field's default is computed at run time.
    shown: str | None = None


FLAGS = {
    "host": Flag(),
    "port": Flag(int),
    "backend": Flag(
        help="sqlite:///path (embedded default) or redis://host:port/db.",
        shown="~/.local/share/inferq/inferq.db",
    ),
    "workers": Flag(
        click.IntRange(1),
        "Worker processes per endpoint; the cores are shared among them.",
        shown="each endpoint's own (Whisper: one per core up to 8 on a CPU, one on a GPU)",
    ),
    "public_url": Flag(help="Base of poll URLs when behind a proxy."),
    "sync_timeout_s": Flag(DURATION, "How long a synchronous predict waits before answering 504."),
    "target_wait_s": Flag(
        DURATION, "The wait /metrics' inferq_workers_needed sizes each endpoint's workers for (autoscaling)."
    ),
    "max_body_bytes": Flag(click.IntRange(1), "Largest request body in bytes (413 above)."),
    "read_timeout_s": Flag(
        DURATION, "Disconnect a client this slow over a request's headers, or this silent in its body."
    ),
    "max_connections": Flag(
        click.IntRange(1),
        "Connections the gateway holds at once, 503 beyond (default: its file descriptors less 128).",
    ),
    "blob_store": Flag(
        help="Where uploaded files live: file:///dir or s3://bucket/prefix (AWS_* variables).",
        shown="beside the SQLite file; none on Redis",
    ),
    "max_upload_bytes": Flag(SIZE, "Largest uploaded file (512M, 2G): 413 as soon as it is passed."),
    "max_queue": Flag(
        click.IntRange(1), "Pending requests per endpoint; beyond, submits get 429 with Retry-After."
    ),
    "max_queue_per_token": Flag(
        click.IntRange(1), "Pending and running requests per token, all endpoints together (429 beyond)."
    ),
    "rate_limit": Flag(
        click.FloatRange(min=0, min_open=True),
        "Submits per second per token, in each gateway process (429 beyond).",
    ),
    "webhook_allow": Flag(
        NETWORKS,
        "Comma-separated networks (10.0.0.0/8,127.0.0.1) webhooks and URL inputs may reach though not public.",
    ),
    "webhook_retry_base_s": Flag(
        DURATION,
        "Unit of the webhook retry schedule: retries after 5, 30, 120, ... 28800 of it (16 h at 1s).",
    ),
    "retention_s": Flag(DURATION, "Keep inputs and outputs this long after a request ends."),
    "max_retention_s": Flag(
        DURATION,
        "Longest retention one request may ask for (Inferq-Retention); 422 beyond.",
        shown="--retention",
    ),
    "lease_s": Flag(DURATION, "A worker silent this long loses its requests to another."),
    "max_attempts": Flag(
        click.IntRange(1), "Lost workers in a row without a checkpoint a request survives before it fails."
    ),
    "concurrency": Flag(click.IntRange(1), "Requests each worker runs at once."),
    "timeout_s": Flag(
        DURATION,
        "Fail a request running longer (for Services that set no timeout_s) and stop its model.",
    ),
    "cancel_grace_s": Flag(
        DURATION,
        "Replace a worker whose model is still running this long after its request was cancelled or timed out.",
    ),
    "max_memory_bytes": Flag(
        SIZE, "Memory of each worker process (512M, 2G): beyond it a request fails with MemoryError."
    ),
}

_FIELDS = {field.name: field for field in dataclasses.fields(Settings)}


def _option(name: str) -> Callable[[F], F]:
    spec, field = FLAGS[name], _FIELDS[name]
    default: Any = field.default
    if field.default_factory is not dataclasses.MISSING:
        default = field.default_factory  # click calls it when the flag is not given
    elif default is None or default == ():
        default = None  # nothing to show: a flag not given leaves the field to Settings
    elif isinstance(spec.type, Parsed):
        default = spec.type.format(default)
    return click.option(
        flag(name),
        name,
        type=spec.type,
        default=default,
        envvar=envvar(name),
        show_default=spec.shown or default is not None,
        help=spec.help,
    )


def setting_options(*names: str) -> Callable[[F], F]:
    """The flags of these Settings fields, in this order; the command gets each by field name
    (None when it is not given and has no default: :func:`given` drops those)."""
    options = [_option(name) for name in names]
    return lambda fn: functools.reduce(lambda f, option: option(f), reversed(options), fn)


backend_option = setting_options("backend")
#: What a worker reads besides ``--backend`` and its endpoint, which its command names first.
worker_options = setting_options(*(name for name in WORKER_FIELDS if name != "backend"))


def given(options: dict[str, Any]) -> dict[str, Any]:
    """The fields the command line set: the others keep Settings' defaults."""
    return {name: value for name, value in options.items() if value is not None}
