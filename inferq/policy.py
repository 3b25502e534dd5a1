"""The defaults every process must agree on, stated once.

Settings (flags, ``INFERQ_*``) override them; the values then flow one way: settings →
:class:`Policy` → backends, workers and gateway. Nothing else spells these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

#: A request keeps its inputs and outputs this long after it ends.
DEFAULT_RETENTION_S = 24 * 3600.0
#: A worker that has not renewed its lease for this long is presumed dead.
DEFAULT_LEASE_S = 30.0
#: A worker renews its leases this many times per lease, so one late beat loses none.
HEARTBEATS_PER_LEASE = 3
#: After this many lost leases in a row without a checkpoint a request fails instead of running again.
DEFAULT_MAX_ATTEMPTS = 3
#: A model still running this long after its request was cancelled or timed out has its
#: worker process replaced.
DEFAULT_CANCEL_GRACE_S = 5.0
#: A webhook POST that has not answered within this is an attempt that failed.
WEBHOOK_TIMEOUT_S = 10.0
#: A deliverer that claimed a webhook delivery and has not reported on it for this long is
#: presumed dead, and another may send it: longer than any one POST may take.
WEBHOOK_LEASE_S = 6 * WEBHOOK_TIMEOUT_S
#: The unit of the webhook retry schedule (:mod:`inferq.webhooks.schedule`).
DEFAULT_WEBHOOK_RETRY_BASE_S = 1.0
#: A process trusts a token the store confirmed for this long without asking again; a
#: revocation reaches every process at once through the bus, this bounds a lost notification.
DEFAULT_TOKEN_TRUST_S = 1.0
#: A synchronous ``predict`` waits this long before answering 504 with the future's id.
DEFAULT_SYNC_TIMEOUT_S = 300.0
#: A request's headers must arrive within this of its first byte, and its body may not pause longer.
DEFAULT_READ_TIMEOUT_S = 30.0
#: How soon the scaling signal wants a backlog drained.
DEFAULT_TARGET_WAIT_S = 60.0
#: Request bodies above this are refused with 413 (base64 audio of ~45 minutes fits).
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
#: A file upload (``POST /v1/files``, a multipart part) above this is refused with 413 as it streams.
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Policy:
    """How long results are kept, how long a lease lasts, how many lost leases a request
    survives, how long a checked token is trusted."""

    retention_s: float = DEFAULT_RETENTION_S
    lease_s: float = DEFAULT_LEASE_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    token_trust_s: float = DEFAULT_TOKEN_TRUST_S

    @property
    def heartbeat_s(self) -> float:
        """How often a worker renews its leases."""
        return self.lease_s / HEARTBEATS_PER_LEASE
