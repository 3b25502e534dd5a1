"""What a store implements: one small contract per concern.

:class:`~inferq.backends.backend.Backend` holds the rules (minting ids, telling "expired"
from "not found", computing times and fair positions, publishing wake-ups) and calls
these; an implementation only stores, each method atomically, and its docstring here is
the contract. A move of a request's status also emits what :mod:`inferq.domain.lifecycle`
says it emits (its webhook delivery, its counters, its retention), in the same atomic
step. ``tests/backends`` runs every contract against every implementation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferq.domain.files import FileRecord
    from inferq.domain.lifecycle import Move
    from inferq.domain.records import Claim, RequestRecord, Submission
    from inferq.domain.scheduling import Turn
    from inferq.domain.status import Status
    from inferq.domain.webhooks import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookLease
    from inferq.errors import Conflict
    from inferq.tokens import TokenInfo

#: What ``enqueue`` stores: a submission, the id minted for it and its body's hash.
Item = tuple["Submission", str, str]


class BackendUnavailable(Exception):
    """The store cannot be reached; the gateway answers 503 and tries again later."""


class StoreFull(BackendUnavailable):
    """The store takes no writes: its disk (or Redis's memory) is full. Reads still work."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a worker reports with each heartbeat; ``ready`` once its model is loaded.

    ``setup_error`` is set by a worker whose ``setup`` raised, in its last heartbeat
    before it exits, so that the endpoint's healthcheck can say why it is not ready.
    """

    worker_id: str
    endpoint: str
    ready: bool
    setup_error: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """An endpoint's queue and workers right now (``GET /v1/endpoints`` and the metrics gauges).

    ``oldest_pending_age_s`` is how long the pending request first in line has waited,
    None when none is pending; ``workers`` counts live heartbeats, ``ready_workers`` those
    with the model loaded.
    """

    pending: int
    running: int
    oldest_pending_age_s: float | None
    workers: int
    ready_workers: int


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The queue part of :class:`EndpointStats`: ``oldest_created_at`` of the pending ones."""

    pending: int
    running: int
    oldest_created_at: float | None


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a pending request stands, as :func:`inferq.domain.scheduling.fair_place` reads
    it: its rank among its tenant's waiting requests, its tenant's turn and each other
    waiting tenant's, and how many requests before every share (requeued, then urgent; at
    what cost) go before it. A requeued or urgent request has no rank and no turn."""

    rank: int = 0
    turn: Turn | None = None
    others: list[Turn] = field(default_factory=list)
    requeued: int = 0
    requeued_cost: float = 0.0


class RequestStore(ABC):
    """Requests as stored: reads, listing, deletion and retention."""

    @abstractmethod
    async def secret(self) -> bytes:
        """The deployment's id-signing secret, created once and shared by every process."""

    @abstractmethod
    async def get(self, tenant: str, response_id: str) -> RequestRecord | None:
        """The record if it exists and belongs to ``tenant``, else None (no queue position)."""

    @abstractmethod
    async def get_many(self, tenant: str, response_ids: list[str]) -> list[RequestRecord]:
        """The records among ``response_ids`` that exist and belong to ``tenant``, in
        round trips that do not grow one by one with the ids."""

    @abstractmethod
    async def output(self, tenant: str, response_id: str) -> bytes | None:
        """The output of a completed request of ``tenant``, byte for byte, or None."""

    @abstractmethod
    async def outputs(self, tenant: str, response_ids: list[str]) -> dict[str, bytes]:
        """:meth:`output` of each of ``response_ids`` that has one, in round trips that do
        not grow one by one with the ids."""

    @abstractmethod
    async def inputs(self, tenant: str, response_id: str) -> bytes | None:
        """The inputs of a request of ``tenant`` as stored, or None."""

    @abstractmethod
    async def partial(self, tenant: str, response_id: str, start: int) -> list[bytes] | None:
        """The pieces of partial output the tenant's request has saved, from index ``start``
        on, in the order saved; None when it is not the tenant's."""

    @abstractmethod
    async def checkpoint(self, tenant: str, response_id: str) -> bytes | None:
        """The state the request's last checkpoint saved, or None."""

    @abstractmethod
    async def owner(self, response_id: str) -> str | None:
        """The ``tenant`` of the stored request ``response_id``, or None: one point read."""

    @abstractmethod
    async def list(
        self, tenant: str | None, status: Status | None, endpoint: str | None, limit: int, before: str | None
    ) -> list[RequestRecord]:
        """The tenant's requests, newest first; ``before`` is the last id of the previous
        page (an unknown one yields an empty page). ``tenant=None`` lists every tenant's
        (an admin's view), paged by an index over all requests in order, never a scan."""

    @abstractmethod
    async def count_active(self, tenant: str, limit: int) -> int:
        """How many of ``tenant``'s requests are pending or running, on every endpoint,
        counted up to ``limit``: the cost is bounded by the limit, never by what is retained."""

    @abstractmethod
    async def delete(self, tenant: str, response_id: str) -> Status | None:
        """Delete the tenant's request as :meth:`expire` does (the same secure deletion) if
        it is terminal; return the status it had either way, None when it is not the tenant's."""

    @abstractmethod
    async def expire(self, now: float, limit: int) -> int:
        """Delete, inputs, outputs and webhook deliveries included, up to ``limit`` terminal
        requests whose ``expires_at`` passed; never a pending or running one. Returns how
        many; its cost grows with that number, not with what is stored."""


class Queue(ABC):
    """The moves of :mod:`inferq.domain.lifecycle`, each one atomic with what it emits."""

    @abstractmethod
    async def enqueue(
        self, items: list[Item], now: float, expires_at: float
    ) -> list[tuple[RequestRecord, bool] | Conflict]:
        """Commit each request as ``pending`` before returning (durable), in order. When its
        ``(tenant, idempotency_key)`` exists, the stored request (``created=False``) if the
        body hash matches, else a :class:`~inferq.errors.Conflict` in its place; the others
        are stored either way."""

    @abstractmethod
    async def claim(
        self, endpoint: str, worker_id: str, now: float, expires_at: float, limit: int
    ) -> tuple[list[Claim], list[str]]:
        """Lease up to ``limit`` next pending requests in the order of
        :mod:`inferq.domain.scheduling` (fewer when fewer wait), in one round
        trip, counting an attempt and clearing the progress of each, and return them with
        the ids of requests this call gave up on. An implementation may take over expired
        leases here (``expires_at`` is for those that give up) or leave that to :meth:`reap`."""

    @abstractmethod
    async def renew(self, worker_id: str, lease_ids: list[str], now: float) -> set[str]:
        """Extend the worker's leases by the policy's lease from ``now``; return those it lost
        (expired and re-claimed, or the request was cancelled)."""

    @abstractmethod
    async def set_progress(self, claim: Claim, progress: float) -> bool:
        """Store ``progress`` if the request is running under ``claim.lease_id``."""

    @abstractmethod
    async def checkpoint(self, claim: Claim, state: bytes, outputs: list[bytes]) -> bool:
        """If the request is running under ``claim.lease_id``: replace its checkpoint with
        ``state``, append ``outputs`` to its partial output (counted in the record's
        ``partial_outputs``) and record this attempt as the last that made progress, durably
        and at once; False, storing nothing, otherwise. Deleting the request deletes them."""

    @abstractmethod
    async def finish(
        self,
        claim: Claim,
        move: Move,
        output: bytes | None,
        error: tuple[str, str] | None,
        now: float,
        expires_at: float,
    ) -> bool:
        """Make ``move`` (complete or fail) on a running request whose lease is still
        ``claim.lease_id``, storing the output or the ``(type, message)`` error; False
        (nothing stored) otherwise."""

    @abstractmethod
    async def cancel(
        self, tenant: str, response_id: str, now: float, expires_at: float
    ) -> RequestRecord | None:
        """Cancel the tenant's pending or running request; the record after the attempt
        (unchanged if it had ended), or None when it is not the tenant's."""

    @abstractmethod
    async def release(
        self, worker_id: str, reason: str, now: float, expires_at: float
    ) -> tuple[list[str], list[str]]:
        """The running requests leased to ``worker_id`` (known dead): give up on those that
        :data:`~inferq.domain.lifecycle.GIVES_UP` says have had their attempts, with :data:`~inferq.domain.lifecycle.WORKER_DIED_ERROR`, requeue the
        others (claimable at once, ahead of newer requests). Return the ids given up on and
        the endpoint of each requeued request."""

    @abstractmethod
    async def reap(self, now: float, expires_at: float) -> tuple[list[str], list[str]]:
        """The same for every request whose lease expired, giving up with
        :data:`~inferq.domain.lifecycle.LEASE_LOST_ERROR`."""

    @abstractmethod
    async def miss_deadlines(self, now: float, expires_at: float, limit: int) -> list[RequestRecord]:
        """Make :data:`~inferq.domain.lifecycle.MISS_DEADLINE` on up to ``limit`` pending or
        running requests whose ``deadline_at`` passed, with its error, and return them as
        they were before; costs what it cancels, never what waits."""

    @abstractmethod
    async def standing_of_new(self, endpoint: str, tenant: str, order_key: float) -> Standing:
        """Where a request of ``tenant`` with ``order_key`` would stand if it were queued now
        (its rank counts the tenant's waiting requests whose key is less), as cheaply as
        :meth:`standings` reads one."""

    @abstractmethod
    async def standings(self, endpoint: str, records: list[RequestRecord]) -> dict[str, Standing]:
        """Where each of the pending ``records`` of ``endpoint`` stands, by response id (one
        that is no longer pending is left out); for one requeued after a lost worker, only
        the requeued requests the store will give out before it. Many cost about what one
        does: never a round trip or a scan of the queue per record, and never blocking the
        event loop on a read that grows with the queue."""

    @abstractmethod
    async def stats(self, endpoint: str) -> QueueStats:
        """Pending and running requests and the ``created_at`` of the oldest pending one
        (a requeued one included), read from the heads of the queue, never blocking the
        event loop on a count that grows with it."""


class WorkerRegistry(ABC):
    """Which workers are alive and whether their model is loaded."""

    @abstractmethod
    async def beat(self, worker: WorkerInfo, now: float) -> None:
        """Record the worker as alive (and ready or not) now. A ``setup_error`` is kept for
        the endpoint until one of its workers reports ready."""

    @abstractmethod
    async def remove(self, worker_id: str) -> None:
        """Forget a worker that stopped, or died."""

    @abstractmethod
    async def ready(self, endpoint: str, now: float) -> bool:
        """True while a ready worker of ``endpoint`` has beaten within a lease of ``now``."""

    @abstractmethod
    async def setup_error(self, endpoint: str) -> str | None:
        """The error of the last failed ``setup`` of a worker of ``endpoint``, until one is ready."""

    @abstractmethod
    async def counts(self, endpoint: str, now: float) -> tuple[int, int]:
        """Workers of ``endpoint`` that have beaten within a lease of ``now``, and how many are ready."""


class TokenStore(ABC):
    """API tokens, stored hashed."""

    @abstractmethod
    async def create(self, info: TokenInfo, digest: str) -> None:
        """Store a new token's info and the hash of its secret."""

    @abstractmethod
    async def list(self) -> list[TokenInfo]:
        """Every token, revoked ones included, oldest first."""

    @abstractmethod
    async def revoke(self, token_id: str, now: float) -> bool:
        """Revoke with immediate effect; False when no such live token."""

    @abstractmethod
    async def find(self, digest: str) -> TokenInfo | None:
        """The live token whose secret hashes to ``digest``, or None."""


class Outbox(ABC):
    """Webhook deliveries (queued by the moves that emit an event), their attempts and keys."""

    @abstractmethod
    async def signing_key(self, tenant: str, fresh: str) -> str:
        """Store ``fresh`` as the tenant's key unless it has one; return the stored key, so
        every process signs with the first one made."""

    @abstractmethod
    async def claim(
        self,
        now: float,
        lease_until: float,
        lease_id: str,
        limit: int,
        busy: Mapping[str, int],
        per_tenant: int | None,
    ) -> list[WebhookLease]:
        """Lease up to ``limit`` pending deliveries whose next attempt is at or before ``now``
        and whose previous lease (if any) ended, until ``lease_until``: soonest due first,
        but no tenant past ``per_tenant`` counting the ``busy`` ones it has in flight at the
        caller already (None: no share), so one tenant's backlog never takes every slot.
        Costs a lookup per tenant with deliveries pending and what is taken, never what one
        tenant has waiting."""

    @abstractmethod
    async def record(
        self,
        lease: WebhookLease,
        attempt: WebhookAttempt,
        state: DeliveryState,
        next_attempt_at: float | None,
    ) -> bool:
        """Append ``attempt`` to the delivery's log, set its ``state`` (``pending`` with
        ``next_attempt_at`` for a retry), and end the lease. False, storing nothing, when
        ``lease.lease_id`` no longer holds it or the delivery is gone with its request."""

    @abstractmethod
    async def log(self, tenant: str, response_id: str) -> list[WebhookDelivery] | None:
        """The deliveries of the tenant's request, oldest first; None when it is not the tenant's."""

    @abstractmethod
    async def redeliver(
        self, tenant: str, response_id: str, webhook_id: str, now: float
    ) -> WebhookDelivery | None:
        """Add a pending delivery ``webhook_id`` of the event of the request's newest
        delivery, due at ``now``, to its current webhook; None when it has no delivery yet
        or is not the tenant's."""


class CounterStore(ABC):
    """The per-endpoint totals of :mod:`inferq.backends.counters`, bumped by every end."""

    @abstractmethod
    async def read(self, endpoint: str) -> dict[str, float]:
        """The stored counters of ``endpoint``; {} if none."""


class FileStore(ABC):
    """The records of uploaded files (their bytes are in the blob store), by owner and expiry."""

    @abstractmethod
    async def add(self, record: FileRecord) -> None:
        """Store a new file's record."""

    @abstractmethod
    async def get(self, tenant: str, file_id: str) -> FileRecord | None:
        """The file, if it is ``tenant``'s and its retention has not been swept."""

    @abstractmethod
    async def newest(self, tenant: str, before: float | None, limit: int) -> list[FileRecord]:
        """Up to ``limit`` of ``tenant``'s files, newest first, created before ``before``."""

    @abstractmethod
    async def delete(self, tenant: str, file_id: str) -> FileRecord | None:
        """Remove the file's record and return it; None if it is not ``tenant``'s."""

    @abstractmethod
    async def expire(self, now: float, limit: int) -> list[FileRecord]:
        """Remove up to ``limit`` records whose ``expires_at`` has passed and return them,
        so that their blobs can be deleted; costs what expired, not what is stored."""
