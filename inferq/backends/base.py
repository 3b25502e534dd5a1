"""The backend interface: a durable store of requests and the queue workers claim from.

Public methods here hold the rules that are the same for every backend (minting ids,
telling "expired" from "not found", waiting on notifications); the abstract ``_``
methods only store, and their docstrings are the contract an implementation meets.
"""

from __future__ import annotations

import asyncio
import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferq.domain import clock
from inferq.domain.ids import issued_to, new_response_id
from inferq.domain.status import Status
from inferq.errors import Conflict, Expired, NotFound

if TYPE_CHECKING:
    from inferq.backends.notify import Bus
    from inferq.domain.records import Claim, RequestRecord, Submission
    from inferq.tokens import TokenInfo

#: A request keeps its inputs and outputs this long after it ends.
DEFAULT_RETENTION_S = 24 * 3600.0
#: A worker that has not renewed its lease for this long is presumed dead.
DEFAULT_LEASE_S = 30.0
#: After this many lost leases a request fails instead of running again.
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class BackendOptions:
    retention_s: float = DEFAULT_RETENTION_S
    lease_s: float = DEFAULT_LEASE_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a worker reports with each heartbeat; ``ready`` once its model is loaded."""

    worker_id: str
    endpoint: str
    ready: bool


class BackendUnavailable(Exception):
    """The store cannot be reached; the gateway answers 503 and tries again later."""


class Backend(ABC):
    """One store of requests and one queue per endpoint, shared by gateways and workers."""

    bus: Bus

    def __init__(self, url: str, options: BackendOptions | None = None) -> None:
        self.url = url
        self.options = options or BackendOptions()

    # lifecycle -----------------------------------------------------------------

    @abstractmethod
    async def start(self) -> None:
        """Connect, create what is missing, and start listening for notifications."""

    @abstractmethod
    async def close(self) -> None:
        """Flush pending writes and release connections; idempotent."""

    @abstractmethod
    async def secret(self) -> bytes:
        """The deployment's id-signing secret, created once and shared by every process."""

    # submit and read -------------------------------------------------------------

    async def enqueue(self, submission: Submission) -> tuple[RequestRecord, bool]:
        """Store a request durably and queue it; returns ``(record, created)``.

        A repeated idempotency key with the same body returns the first request with
        ``created=False``; with another body it raises :class:`Conflict`.
        """
        response_id = new_response_id(await self.secret(), submission.tenant)
        body_hash = hashlib.sha256(submission.inputs).hexdigest()
        record, created = await self._enqueue(submission, response_id, body_hash)
        if created:
            self.bus.publish_work(submission.endpoint)
        return record, created

    @abstractmethod
    async def _enqueue(
        self, submission: Submission, response_id: str, body_hash: str
    ) -> tuple[RequestRecord, bool]:
        """Commit the request as ``pending`` before returning (durable), expiring at
        ``created_at + retention``. When ``(tenant, idempotency_key)`` exists, return the
        stored request (``created=False``) if its body hash matches, else raise Conflict."""

    async def get(self, tenant: str, response_id: str) -> RequestRecord:
        """The request's state, with ``queue_position`` when pending.

        Raises :class:`Expired` for an id minted for this tenant whose data is gone, and
        :class:`NotFound` for anything else, another tenant's request included.
        """
        record = await self._get(tenant, response_id)
        if record is None:
            raise await self._missing(tenant, response_id)
        return record

    async def _missing(self, tenant: str, response_id: str) -> NotFound:
        if issued_to(await self.secret(), tenant, response_id):
            hours = self.options.retention_s / 3600
            return Expired(
                f"request {response_id} has expired: its inputs and outputs are deleted "
                f"{hours:g} h after it ends",
                response_id=response_id,
            )
        return NotFound(f"no request {response_id!r}", response_id=response_id)

    @abstractmethod
    async def _get(self, tenant: str, response_id: str) -> RequestRecord | None:
        """The record if it exists, belongs to ``tenant`` and has not expired, else None."""

    async def get_output(self, tenant: str, response_id: str) -> bytes:
        """The stored output, byte for byte; Conflict while the request is not completed."""
        output = await self._get_output(tenant, response_id)
        if output is not None:
            return output
        record = await self.get(tenant, response_id)
        raise Conflict(
            f"request {response_id} is {record.status.value}, it has no response yet"
            if not record.status.is_terminal
            else f"request {response_id} is {record.status.value}: it has no response",
            status=record.status.value,
        )

    @abstractmethod
    async def _get_output(self, tenant: str, response_id: str) -> bytes | None:
        """The output of a completed request of ``tenant``, or None."""

    async def wait(self, tenant: str, response_id: str, timeout: float) -> RequestRecord:
        """The request's state once it is terminal, or when ``timeout`` runs out.

        Wakes on the backend's notification of the request's end, never by polling.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        with self.bus.watch_done(response_id) as done:
            while True:
                record = await self.get(tenant, response_id)
                remaining = deadline - asyncio.get_running_loop().time()
                if record.status.is_terminal or remaining <= 0:
                    return record
                try:
                    await asyncio.wait_for(done.wait(), remaining)
                except TimeoutError:
                    pass
                done.clear()

    @abstractmethod
    async def list_requests(
        self,
        tenant: str,
        *,
        status: Status | None = None,
        endpoint: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RequestRecord]:
        """The tenant's requests, newest first; ``before`` is the last id of the previous
        page (an unknown one yields an empty page)."""

    async def cancel(self, tenant: str, response_id: str) -> RequestRecord:
        """Cancel a pending or running request; a finished one is returned unchanged.

        A running request's worker learns of it at its next heartbeat and its output,
        if any, is discarded.
        """
        record = await self._cancel(tenant, response_id, clock.now())
        if record is None:
            raise await self._missing(tenant, response_id)
        if record.status is Status.CANCELLED:
            self.bus.publish_done(response_id)
        return record

    @abstractmethod
    async def _cancel(self, tenant: str, response_id: str, now: float) -> RequestRecord | None:
        """Move a pending/running request to ``cancelled`` (retention from ``now``);
        return the record after the attempt, or None when it is not the tenant's."""

    # worker side ---------------------------------------------------------------

    async def claim(self, endpoint: str, worker_id: str) -> Claim | None:
        """Lease the oldest pending request of ``endpoint``, counting an attempt, or None."""
        claim, failed = await self._claim(endpoint, worker_id, clock.now())
        for response_id in failed:
            self.bus.publish_done(response_id)
        return claim

    @abstractmethod
    async def _claim(self, endpoint: str, worker_id: str, now: float) -> tuple[Claim | None, list[str]]:
        """Lease the oldest pending request (lease until ``now + lease_s``) and return it with
        the ids of requests this call failed. A backend may take over expired leases here
        (failing those past ``max_attempts``) or leave that to ``_reap_leases``."""

    @abstractmethod
    async def heartbeat(self, worker: WorkerInfo, lease_ids: list[str]) -> set[str]:
        """Record the worker as alive and extend its leases; returns the lease ids it lost
        (expired and re-claimed, or the request was cancelled)."""

    async def complete(self, claim: Claim, output: bytes) -> bool:
        """Store the output and end the request; False (nothing stored) if the lease was lost."""
        done = await self._finish(claim, Status.COMPLETED, output, None, None, clock.now())
        if done:
            self.bus.publish_done(claim.record.response_id)
        return done

    async def fail(self, claim: Claim, error_type: str, message: str) -> bool:
        """End the request as failed with the reason; False if the lease was lost."""
        done = await self._finish(claim, Status.FAILED, None, error_type, message, clock.now())
        if done:
            self.bus.publish_done(claim.record.response_id)
        return done

    @abstractmethod
    async def _finish(
        self,
        claim: Claim,
        status: Status,
        output: bytes | None,
        error_type: str | None,
        error: str | None,
        now: float,
    ) -> bool:
        """Atomically end a running request whose lease is still ``claim.lease_id``,
        setting ``completed_at=now`` and ``expires_at=now+retention``."""

    @abstractmethod
    async def remove_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""

    @abstractmethod
    async def endpoint_ready(self, endpoint: str) -> bool:
        """True while a worker of ``endpoint`` with its model loaded has a live heartbeat."""

    # maintenance ---------------------------------------------------------------

    async def reap_leases(self) -> int:
        """Requeue (or fail, past max attempts) requests whose lease expired; returns how many."""
        ended, requeued = await self._reap_leases(clock.now())
        for response_id in ended:
            self.bus.publish_done(response_id)
        for endpoint in set(requeued):
            self.bus.publish_work(endpoint)
        return len(ended) + len(requeued)

    @abstractmethod
    async def _reap_leases(self, now: float) -> tuple[list[str], list[str]]:
        """Apply lease expiry; return the ids it failed and the endpoint of each one it requeued."""

    @abstractmethod
    async def expire(self, now: float, limit: int = 1000) -> int:
        """Delete, inputs and outputs included, up to ``limit`` terminal requests whose
        ``expires_at`` passed; never a pending or running one. Returns how many; its cost
        grows with that number, not with what is stored."""

    # tokens --------------------------------------------------------------------

    @abstractmethod
    async def create_token(self, name: str, *, admin: bool = False) -> tuple[TokenInfo, str]:
        """Mint and store (hashed) a token; returns its info and the token, shown once."""

    @abstractmethod
    async def list_tokens(self) -> list[TokenInfo]:
        """Every token, revoked ones included, oldest first."""

    @abstractmethod
    async def revoke_token(self, token_id: str) -> bool:
        """Revoke with immediate effect; False when no such token."""

    @abstractmethod
    async def authenticate(self, token: str) -> TokenInfo | None:
        """The live token matching ``token``, or None."""
