"""One Settings object for every process, built once from flags, ``INFERQ_*`` and defaults.

Each field's default is stated here (the queue's, in :mod:`inferq.policy`), and each field is
set by the flag its name gives (:func:`flag`): the command line reads both from here, and
``inferq serve`` hands its workers their settings through the same flags.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from inferq.policy import (
    DEFAULT_CANCEL_GRACE_S,
    DEFAULT_LEASE_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_RETENTION_S,
    DEFAULT_SYNC_TIMEOUT_S,
    DEFAULT_TARGET_WAIT_S,
    DEFAULT_WEBHOOK_RETRY_BASE_S,
    Policy,
)

if TYPE_CHECKING:
    from inferq.webhooks.policy import Network


def default_backend_url() -> str:
    """The embedded store: ``$XDG_DATA_HOME/inferq/inferq.db`` (``~/.local/share`` by default)."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'inferq' / 'inferq.db'}"


def flag(name: str) -> str:
    """The flag that sets field ``name``: ``lease_s`` is ``--lease``, ``max_memory_bytes`` ``--max-memory``.

    One field breaks the rule: ``run_workers`` is turned off by ``--no-workers``.
    """
    return "--" + re.sub(r"_(s|bytes)$", "", name).replace("_", "-")


def envvar(name: str) -> str:
    """The variable that sets field ``name`` when its flag is not given: ``--lease``'s is ``INFERQ_LEASE``."""
    return "INFERQ_" + flag(name).removeprefix("--").replace("-", "_").upper()


#: What a worker process reads besides its endpoint: ``inferq worker`` takes each as a flag,
#: and ``inferq serve`` passes each on to the workers it starts.
WORKER_FIELDS = (
    "backend",
    "blob_store",
    "max_upload_bytes",
    "webhook_allow",
    "retention_s",
    "lease_s",
    "max_attempts",
    "concurrency",
    "timeout_s",
    "cancel_grace_s",
    "max_memory_bytes",
)


@dataclass(frozen=True, slots=True)
class Settings:
    backend: str = field(default_factory=default_backend_url)
    host: str = "127.0.0.1"
    port: int = 8000
    endpoints: dict[str, str] = field(default_factory=dict)
    #: Worker processes per endpoint; None: the endpoint's Service says (``default_workers``).
    workers: int | None = None
    run_workers: bool = True
    concurrency: int = 1
    public_url: str | None = None
    retention_s: float = DEFAULT_RETENTION_S
    #: The longest retention a request may ask for; None: ``retention_s``.
    max_retention_s: float | None = None
    lease_s: float = DEFAULT_LEASE_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    sync_timeout_s: float = DEFAULT_SYNC_TIMEOUT_S
    #: The wait the scaling signal (``inferq_workers_needed``) sizes the workers for.
    target_wait_s: float = DEFAULT_TARGET_WAIT_S
    timeout_s: float | None = None
    cancel_grace_s: float = DEFAULT_CANCEL_GRACE_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: A client slower than this over a request's headers, or silent this long in its body,
    #: is disconnected.
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    #: Connections the gateway holds at once (503 beyond); None: what its file descriptors allow.
    max_connections: int | None = None
    #: Where uploaded files live (:mod:`inferq.blobs`); None: beside the SQLite file, or
    #: nowhere on Redis (files then travel inline, up to ``max_body_bytes``).
    blob_store: str | None = None
    #: The largest file one upload may hold (or one URL input may fetch).
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    #: File inputs may be ``http(s)://`` URLs, fetched by the worker under the webhooks'
    #: address policy (``webhook_allow``).
    allow_url_inputs: bool = False
    #: Each worker process's memory (RLIMIT_DATA); None: no limit of inferq's own.
    max_memory_bytes: int | None = None
    #: 429 while an endpoint has this many requests pending; None: no limit.
    max_queue: int | None = None
    #: 429 while a token has this many requests pending or running; None: no limit.
    max_queue_per_token: int | None = None
    #: Submits per second per token, in each gateway process; None: no limit.
    rate_limit: float | None = None
    #: The unit of the webhook retry schedule (:mod:`inferq.webhooks.schedule`); tests shrink it.
    webhook_retry_base_s: float = DEFAULT_WEBHOOK_RETRY_BASE_S
    #: Networks webhooks and URL inputs may reach although they are not public (loopback, private, ...).
    webhook_allow: tuple[Network, ...] = ()

    def __post_init__(self) -> None:
        for name in (
            "workers",
            "concurrency",
            "max_attempts",
            "max_body_bytes",
            "max_upload_bytes",
            "max_memory_bytes",
            "max_queue",
            "max_queue_per_token",
            "max_connections",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be positive, got {self.rate_limit}")

    def policy(self) -> Policy:
        return Policy(retention_s=self.retention_s, lease_s=self.lease_s, max_attempts=self.max_attempts)

    def blob_store_url(self) -> str | None:
        """``blob_store``, else a directory beside the SQLite file (``inferq.db.files``)."""
        if self.blob_store is not None or not self.backend.startswith("sqlite:"):
            return self.blob_store
        from inferq.backends.sqlite.database import db_path_from_url

        path = db_path_from_url(self.backend)
        return (path.parent.resolve() / f"{path.name}.files").as_uri()

    def argv(self, names: Iterable[str]) -> list[str]:
        """These fields as the flags that set them (those that are unset left out), so that a
        child process given them reads the values this one holds."""
        args: list[str] = []
        for name in names:
            value = getattr(self, name)
            if isinstance(value, tuple):  # networks, as their flag lists them
                value = ",".join(map(str, value)) or None
            if value is not None:
                args += [flag(name), str(value)]
        return args
