"""The backend interface: a durable store of requests and the queue workers claim from.

Public methods here hold the rules that are the same for every backend (minting ids,
telling "expired" from "not found", waiting on notifications); the abstract ``_``
methods only store, and their docstrings are the contract an implementation meets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferq.backends.counters import EndpointTotals
from inferq.domain import clock
from inferq.domain.ids import issued_to, new_response_id
from inferq.domain.status import Status
from inferq.domain.webhooks import new_webhook_id
from inferq.errors import Conflict, Expired, NotFound
from inferq.policy import WEBHOOK_LEASE_S, Policy

if TYPE_CHECKING:
    from inferq.backends.notify import Bus
    from inferq.domain.records import Claim, RequestRecord, Submission
    from inferq.domain.webhooks import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookLease
    from inferq.tokens import TokenInfo


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


def _to_store(secret: bytes, submission: Submission) -> tuple[Submission, str, str]:
    """A submission with the id minted for it and its body's hash, as ``_enqueue`` takes them."""
    return (
        submission,
        new_response_id(secret, submission.tenant),
        hashlib.sha256(submission.inputs).hexdigest(),
    )


class BackendUnavailable(Exception):
    """The store cannot be reached; the gateway answers 503 and tries again later."""


class Backend(ABC):
    """One store of requests and one queue per endpoint, shared by gateways and workers."""

    bus: Bus

    def __init__(self, url: str, policy: Policy | None = None) -> None:
        self.url = url
        self.policy = policy or Policy()

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
        record, created = await self._enqueue(*_to_store(await self.secret(), submission))
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

    async def enqueue_many(self, submissions: list[Submission]) -> list[tuple[RequestRecord, bool]]:
        """:meth:`enqueue` for each submission, in order; what a batch submit stores.

        Each is stored as if submitted alone (a backend may write them together), so a
        :class:`Conflict` on one leaves the others queued, and a retry with the same
        idempotency keys returns them instead of queueing them twice.
        """
        secret = await self.secret()
        items = [_to_store(secret, submission) for submission in submissions]
        try:
            return await self._enqueue_many(items)
        finally:  # a Conflict on one still leaves the others queued: wake their workers
            for endpoint in {submission.endpoint for submission in submissions}:
                self.bus.publish_work(endpoint)

    async def _enqueue_many(
        self, items: list[tuple[Submission, str, str]]
    ) -> list[tuple[RequestRecord, bool]]:
        """``_enqueue`` for each ``(submission, response_id, body_hash)``, in order; a backend
        that can store them in one round trip overrides this."""
        return list(await asyncio.gather(*(self._enqueue(*item) for item in items)))

    async def get_many(self, tenant: str, response_ids: list[str]) -> dict[str, RequestRecord | NotFound]:
        """Each request's state, or the :class:`NotFound` (or :class:`Expired`) that
        :meth:`get` would raise for it. No queue positions: this serves waits on many."""
        found = {record.response_id: record for record in await self._get_many(tenant, response_ids)}
        return {
            response_id: found[response_id]
            if response_id in found
            else await self._missing(tenant, response_id)
            for response_id in response_ids
        }

    @abstractmethod
    async def get_outputs(self, tenant: str, response_ids: list[str]) -> dict[str, bytes]:
        """The stored outputs of those of ``response_ids`` that are the tenant's and completed,
        byte for byte, in round trips that do not grow one by one with the ids."""

    @abstractmethod
    async def _get_many(self, tenant: str, response_ids: list[str]) -> list[RequestRecord]:
        """The records among ``response_ids`` that exist and belong to ``tenant``, in
        round trips that do not grow one by one with the ids (queue positions unset)."""

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
            hours = self.policy.retention_s / 3600
            return Expired(
                f"request {response_id} has expired or was deleted: its inputs and outputs are "
                f"deleted {hours:g} h after it ends, or earlier by DELETE /v1/requests/{response_id}",
                response_id=response_id,
            )
        return NotFound(f"no request {response_id!r}", response_id=response_id)

    @abstractmethod
    async def _get(self, tenant: str, response_id: str) -> RequestRecord | None:
        """The record if it exists, belongs to ``tenant`` and has not expired, else None."""

    async def owner(self, response_id: str) -> str:
        """The tenant a stored request belongs to, whoever asks: how an admin acts on any
        tenant's request (then through the tenant-scoped methods, as its owner would).

        Raises what :meth:`get` raises to the owner: :class:`Expired` for an id minted for
        any token whose data is gone (checked against each token, never the requests), and
        :class:`NotFound` for anything else.
        """
        tenant = await self._owner(response_id)
        if tenant is not None:
            return tenant
        secret = await self.secret()
        issued = (token.id for token in await self.list_tokens() if issued_to(secret, token.id, response_id))
        raise await self._missing(next(issued, ""), response_id)

    @abstractmethod
    async def _owner(self, response_id: str) -> str | None:
        """The ``tenant`` of the stored request ``response_id``, or None: one point read."""

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

        Wakes on the backend's notifications of the request's changes, never by polling.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        with self.bus.watch_changes(response_id) as changed:
            while True:
                record = await self.get(tenant, response_id)
                remaining = deadline - asyncio.get_running_loop().time()
                if record.status.is_terminal or remaining <= 0:
                    return record
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    pass
                changed.clear()

    @abstractmethod
    async def list_requests(
        self,
        tenant: str | None,
        *,
        status: Status | None = None,
        endpoint: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RequestRecord]:
        """The tenant's requests, newest first; ``before`` is the last id of the previous
        page (an unknown one yields an empty page). ``tenant=None`` lists every tenant's
        (an admin's view), paged by an index over all requests in order, never a scan."""

    async def delete(self, tenant: str, response_id: str) -> None:
        """Delete a finished request's inputs, outputs and record now, as retention would later.

        Raises :class:`Conflict` while it is pending or running (cancel it first), and what
        :meth:`get` raises for a request that is not the tenant's or is already gone.
        """
        status = await self._delete(tenant, response_id)
        if status is None:
            raise await self._missing(tenant, response_id)
        if not status.is_terminal:
            raise Conflict(
                f"request {response_id} is {status.value}: cancel it before deleting it", status=status.value
            )

    @abstractmethod
    async def _delete(self, tenant: str, response_id: str) -> Status | None:
        """Delete the tenant's request as ``expire`` does (the same secure deletion) if it
        is terminal; return the status it had either way, None when it is not the tenant's."""

    @abstractmethod
    async def count_active(self, tenant: str, limit: int) -> int:
        """How many of ``tenant``'s requests are pending or running, on every endpoint,
        counted up to ``limit``: the cost is bounded by the caller's limit, never by what
        is retained."""

    async def cancel(self, tenant: str, response_id: str) -> RequestRecord:
        """Cancel a pending or running request; a finished one is returned unchanged.

        A running request's worker learns of it at its next heartbeat and its output,
        if any, is discarded.
        """
        record = await self._cancel(tenant, response_id, clock.now())
        if record is None:
            raise await self._missing(tenant, response_id)
        if record.status is Status.CANCELLED:
            self.bus.publish_changed(response_id)
            self._wake_deliverers(record)
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
            self.bus.publish_changed(response_id)
        if claim is not None:
            self.bus.publish_changed(claim.record.response_id)
            self._wake_deliverers(claim.record)
        return claim

    @abstractmethod
    async def _claim(self, endpoint: str, worker_id: str, now: float) -> tuple[Claim | None, list[str]]:
        """Lease the oldest pending request (lease until ``now + lease_s``) and return it with
        the ids of requests this call failed. A backend may take over expired leases here
        (failing those past ``max_attempts``) or leave that to ``_reap_leases``."""

    @abstractmethod
    async def heartbeat(self, worker: WorkerInfo, lease_ids: list[str]) -> set[str]:
        """Record the worker as alive and extend its leases; returns the lease ids it lost
        (expired and re-claimed, or the request was cancelled). A ``setup_error`` is kept
        for the endpoint until one of its workers reports ready."""

    async def report_progress(self, claim: Claim, progress: float) -> bool:
        """Record how far a running request has got (0 to 1) for its status and event
        stream; False (nothing stored) if the lease was lost. A claim starts at none."""
        stored = await self._set_progress(claim, min(1.0, max(0.0, progress)))
        if stored:
            self.bus.publish_changed(claim.record.response_id)
        return stored

    @abstractmethod
    async def _set_progress(self, claim: Claim, progress: float) -> bool:
        """Store ``progress`` on the request if it is running under ``claim.lease_id``;
        ``_claim`` clears it, so a request run again starts from none."""

    async def complete(self, claim: Claim, output: bytes) -> bool:
        """Store the output and end the request; False (nothing stored) if the lease was lost."""
        done = await self._finish(claim, Status.COMPLETED, output, None, None, clock.now())
        if done:
            self.bus.publish_changed(claim.record.response_id)
            self._wake_deliverers(claim.record)
        return done

    async def fail(self, claim: Claim, error_type: str, message: str) -> bool:
        """End the request as failed with the reason; False if the lease was lost."""
        done = await self._finish(claim, Status.FAILED, None, error_type, message, clock.now())
        if done:
            self.bus.publish_changed(claim.record.response_id)
            self._wake_deliverers(claim.record)
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

    @abstractmethod
    async def setup_error(self, endpoint: str) -> str | None:
        """The error of the last failed ``setup`` of a worker of ``endpoint``, until one is ready."""

    async def release_worker(self, worker_id: str, reason: str) -> int:
        """Take back at once the requests of a worker known to be dead, and forget it.

        Its supervisor saw it exit, so there is no need to wait for its leases to run out:
        each request it ran goes back to the queue, or fails with ``reason`` once it has
        had ``max_attempts``. Returns how many requests it held.
        """
        failed, requeued = await self._release_worker(worker_id, reason, clock.now())
        for response_id in failed:
            self.bus.publish_changed(response_id)
        for endpoint in set(requeued):
            self.bus.publish_work(endpoint)
        return len(failed) + len(requeued)

    @abstractmethod
    async def _release_worker(self, worker_id: str, reason: str, now: float) -> tuple[list[str], list[str]]:
        """Atomically: fail the running requests leased to ``worker_id`` whose attempts reached
        ``max_attempts`` with ``"<reason>; giving up after <attempts> attempts"``, requeue the
        others (claimable at once, ahead of newer requests), and drop the worker from the live
        ones. Return the failed ids and the endpoint of each requeued request."""

    # observation ---------------------------------------------------------------

    async def endpoint_stats(self, endpoint: str) -> EndpointStats:
        """The queue and workers of ``endpoint`` now; all zero for one never used.

        Costs what is queued, running and heartbeating, never what is retained, so a
        dashboard or a scrape may call it often.
        """
        return await self._endpoint_stats(endpoint, clock.now())

    @abstractmethod
    async def _endpoint_stats(self, endpoint: str, now: float) -> EndpointStats:
        """Count pending and running requests and the workers whose heartbeat is under a
        lease old (ready ones apart); the oldest pending age is ``now`` minus the
        ``created_at`` of the oldest pending request (a requeued one included), found at
        the head of the queue, never by scanning it."""

    async def endpoint_totals(self, endpoint: str) -> EndpointTotals:
        """Requests of ``endpoint`` ended since the store was created, by status, and
        histograms of queue wait, run time and end to end of those that had started.

        Counted by the store as each request ends, so every end counts once whichever
        gateway or worker caused it; retention does not lower them.
        """
        return EndpointTotals.from_counters(await self._endpoint_counters(endpoint))

    @abstractmethod
    async def _endpoint_counters(self, endpoint: str) -> dict[str, float]:
        """The stored counters of :mod:`inferq.backends.counters`, bumped atomically with
        every move to a terminal status (finish, cancel, a lost lease's failure); {} if none."""

    # maintenance ---------------------------------------------------------------

    async def reap_leases(self) -> int:
        """Requeue (or fail, past max attempts) requests whose lease expired; returns how many."""
        ended, requeued = await self._reap_leases(clock.now())
        for response_id in ended:
            self.bus.publish_changed(response_id)
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

    # webhooks ------------------------------------------------------------------
    #
    # A request's webhook and events filter are stored by ``_enqueue``. The state changes
    # that are events (a first claim: ``start``; any move to a terminal status:
    # ``completed``) create a pending delivery with a fresh ``webhook-id`` in the same
    # atomic step, when the request's filter asks for that event. Deliveries and their
    # attempts are deleted with their request (``expire`` and ``delete``).

    def _wake_deliverers(self, record: RequestRecord) -> None:
        """A change of ``record`` may have queued a delivery: wake the deliverers (a hint;
        they also look on a short timer, for changes made where this is not called)."""
        if record.webhook is not None:
            self.bus.publish_webhooks()

    async def webhook_secret(self, tenant: str) -> str:
        """The tenant's signing key, ``whsec_`` + base64 of 32 random bytes, made on first use."""
        fresh = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        return await self._webhook_secret(tenant, fresh)

    @abstractmethod
    async def _webhook_secret(self, tenant: str, fresh: str) -> str:
        """Store ``fresh`` as the tenant's key unless it has one; return the stored key, so
        every process signs with the first one made."""

    async def claim_webhooks(self, limit: int) -> list[WebhookLease]:
        """Lease up to ``limit`` deliveries that are due, for :data:`WEBHOOK_LEASE_S`."""
        now = clock.now()
        return await self._claim_webhooks(now, now + WEBHOOK_LEASE_S, secrets.token_hex(8), limit)

    @abstractmethod
    async def _claim_webhooks(
        self, now: float, lease_until: float, lease_id: str, limit: int
    ) -> list[WebhookLease]:
        """Atomically lease pending deliveries whose next attempt is at or before ``now``
        and whose previous lease (if any) ended, soonest due first, until ``lease_until``;
        a delivery leased here is not returned to any other caller before then. Costs what
        is due, never what is stored."""

    @abstractmethod
    async def record_webhook_attempt(
        self,
        lease: WebhookLease,
        attempt: WebhookAttempt,
        state: DeliveryState,
        next_attempt_at: float | None,
    ) -> bool:
        """Append ``attempt`` to the delivery's log, set its ``state`` (``pending`` with
        ``next_attempt_at`` for a retry), and end the lease. False, storing nothing, when
        ``lease.lease_id`` no longer holds it or the delivery is gone with its request."""

    async def webhook_log(self, tenant: str, response_id: str) -> list[WebhookDelivery]:
        """The request's deliveries, oldest first, each with its attempts; raises as
        :meth:`get` does for a request that is not the tenant's or is gone."""
        deliveries = await self._webhook_log(tenant, response_id)
        if deliveries is None:
            raise await self._missing(tenant, response_id)
        return deliveries

    @abstractmethod
    async def _webhook_log(self, tenant: str, response_id: str) -> list[WebhookDelivery] | None:
        """The deliveries of the tenant's request, oldest first; None when it is not the tenant's."""

    async def redeliver_webhook(self, tenant: str, response_id: str) -> WebhookDelivery:
        """Queue a fresh delivery (a new ``webhook-id``) of the request's latest event.

        Raises :class:`Conflict` when the request has no webhook or no event happened yet,
        and what :meth:`get` raises for a request that is not the tenant's.
        """
        record = await self.get(tenant, response_id)
        if record.webhook is None:
            raise Conflict(f"request {response_id} was submitted without a webhook")
        delivery = await self._redeliver_webhook(tenant, response_id, new_webhook_id(), clock.now())
        if delivery is None:
            raise Conflict(
                f"request {response_id} has sent no webhook event yet (it is {record.status.value})",
                status=record.status.value,
            )
        self.bus.publish_webhooks()
        return delivery

    @abstractmethod
    async def _redeliver_webhook(
        self, tenant: str, response_id: str, webhook_id: str, now: float
    ) -> WebhookDelivery | None:
        """Add a pending delivery ``webhook_id`` of the event of the request's newest
        delivery, due at ``now``, to its current webhook; None when it has no delivery yet
        or is not the tenant's."""

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
