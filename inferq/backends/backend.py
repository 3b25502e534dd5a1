"""The backend every gateway and worker talks to: the rules, over the stores' contracts.

What is the same for every store lives here: minting ids, telling "expired" from "not
found", the times a move stamps (:mod:`inferq.domain.lifecycle`), fair queue positions,
waiting on notifications and waking the processes that wait. An implementation
(``inferq.backends.sqlite``, ``inferq.backends.redis``) supplies the stores of
:mod:`inferq.backends.contracts` and its :class:`~inferq.backends.bus.Bus`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import hashlib
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING

from inferq.backends.contracts import EndpointStats
from inferq.backends.counters import EndpointTotals
from inferq.backends.trusted_tokens import TrustedTokens
from inferq.domain import clock, lifecycle, scheduling
from inferq.domain.ids import issued_to, new_response_id
from inferq.domain.status import Status
from inferq.domain.webhooks import new_webhook_id
from inferq.errors import Conflict, Expired, NotFound
from inferq.policy import WEBHOOK_LEASE_S, Policy
from inferq.tokens import TokenInfo, new_token, token_hash

if TYPE_CHECKING:
    from inferq.backends.bus import Bus
    from inferq.backends.contracts import (
        CounterStore,
        FileStore,
        Item,
        Outbox,
        Queue,
        RequestStore,
        Standing,
        TokenStore,
        WorkerInfo,
        WorkerRegistry,
    )
    from inferq.domain.records import Claim, RequestRecord, Submission
    from inferq.domain.scheduling import Place
    from inferq.domain.webhooks import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookLease


class Backend(ABC):
    """One store of requests and one queue per endpoint, shared by gateways and workers."""

    requests: RequestStore
    queue: Queue
    workers: WorkerRegistry
    tokens: TokenStore
    outbox: Outbox
    counters: CounterStore
    files: FileStore
    bus: Bus

    def __init__(self, url: str, policy: Policy | None = None) -> None:
        self.url = url
        self.policy = policy or Policy()

    @abstractmethod
    async def start(self) -> None:
        """Connect, create what is missing, and start listening for notifications."""

    @abstractmethod
    async def close(self) -> None:
        """Flush pending writes and release connections; idempotent."""

    async def secret(self) -> bytes:
        """The deployment's id-signing secret, created once and shared by every process."""
        return await self.requests.secret()

    def _expires_at(self, now: float) -> float:
        return lifecycle.expires_at(now, self.policy.retention_s)

    # submit and read -------------------------------------------------------------

    async def enqueue(self, submission: Submission) -> tuple[RequestRecord, bool]:
        """Store a request durably and queue it; returns ``(record, created)``.

        A repeated idempotency key with the same body returns the first request with
        ``created=False``; with another body it raises :class:`Conflict`.
        """
        [stored] = await self._enqueue([submission])
        if isinstance(stored, Conflict):
            raise stored
        return stored

    async def enqueue_many(self, submissions: list[Submission]) -> list[tuple[RequestRecord, bool]]:
        """:meth:`enqueue` for each submission, in order (a batch submit). Each is stored as if
        submitted alone: a :class:`Conflict` on one leaves the others queued, then raises."""
        stored = await self._enqueue(submissions)
        for outcome in stored:
            if isinstance(outcome, Conflict):
                raise outcome
        return [outcome for outcome in stored if not isinstance(outcome, Conflict)]

    async def _enqueue(self, submissions: list[Submission]) -> list[tuple[RequestRecord, bool] | Conflict]:
        secret = await self.secret()
        items: list[Item] = [
            (sub, new_response_id(secret, sub.tenant), sub.digest or hashlib.sha256(sub.inputs).hexdigest())
            for sub in submissions
        ]
        now = clock.now()
        stored = await self.queue.enqueue(items, now, self._expires_at(now))
        queued = zip(submissions, stored, strict=True)
        for endpoint in {
            sub.endpoint for sub, outcome in queued if not isinstance(outcome, Conflict) and outcome[1]
        }:
            self.bus.publish_work(endpoint)
        return stored

    async def get(self, tenant: str, response_id: str, *, position: bool = True) -> RequestRecord:
        """The request's state, with its fair ``queue_position`` when pending (unless
        ``position`` is False: :meth:`positions` gives many at once). Raises
        :class:`Expired` for an id minted for this tenant whose data is gone, and
        :class:`NotFound` for anything else, another tenant's request included."""
        record = await self.requests.get(tenant, response_id)
        if record is None:
            raise await self._missing(tenant, response_id)
        if record.status is not Status.PENDING or not position:
            return record
        place = (await self.positions([record])).get(record.response_id)
        if place is None:
            return record
        return dataclasses.replace(record, queue_position=place.position, cost_ahead=place.cost_ahead)

    async def positions(self, records: list[RequestRecord]) -> dict[str, Place]:
        """Where each pending record stands in the queue's order (:mod:`inferq.domain.scheduling`),
        by response id (one that has started meanwhile is left out), in one store call per endpoint."""
        endpoints: dict[str, list[RequestRecord]] = {}
        for record in records:
            endpoints.setdefault(record.endpoint, []).append(record)
        places: dict[str, Place] = {}
        for endpoint, pending in endpoints.items():
            for response_id, at in (await self.queue.standings(endpoint, pending)).items():
                places[response_id] = _place(at)
        return places

    async def place_of_new(
        self, endpoint: str, tenant: str, priority: int, cost: float, pace: float
    ) -> Place:
        """Where a request of ``tenant`` would stand if it were queued now: what a deadline
        is checked against before the request is accepted."""
        key = scheduling.order_key(priority, clock.now(), cost, pace)
        return _place(await self.queue.standing_of_new(endpoint, tenant, key))

    async def retry_source(self, tenant: str, response_id: str) -> tuple[RequestRecord, bytes]:
        """The record and stored inputs of the tenant's request to re-run; :class:`Conflict`
        unless it ended :data:`~inferq.domain.lifecycle.RETRYABLE`, and what :meth:`get`
        raises for one that is not the tenant's or is gone."""
        record = await self.get(tenant, response_id, position=False)
        if record.status not in lifecycle.RETRYABLE:
            raise Conflict(
                f"request {response_id} is {record.status.value}: only a failed or cancelled request "
                "can be retried",
                status=record.status.value,
            )
        inputs = await self.requests.inputs(tenant, response_id)
        if inputs is None:  # deleted since the read
            raise await self._missing(tenant, response_id)
        return record, inputs

    async def get_many(self, tenant: str, response_ids: list[str]) -> dict[str, RequestRecord | NotFound]:
        """Each request's state, or the :class:`NotFound` (or :class:`Expired`) that
        :meth:`get` would raise for it. No queue positions: this serves waits on many."""
        found = {record.response_id: record for record in await self.requests.get_many(tenant, response_ids)}
        return {
            response_id: found[response_id]
            if response_id in found
            else await self._missing(tenant, response_id)
            for response_id in response_ids
        }

    async def get_outputs(self, tenant: str, response_ids: list[str]) -> dict[str, bytes]:
        """The stored outputs of those of ``response_ids`` that are the tenant's and completed."""
        return await self.requests.outputs(tenant, response_ids)

    async def get_output(self, tenant: str, response_id: str) -> bytes:
        """The stored output, byte for byte; Conflict while the request is not completed."""
        output = await self.requests.output(tenant, response_id)
        if output is not None:
            return output
        record = await self.get(tenant, response_id)
        raise Conflict(
            f"request {response_id} is {record.status.value}, it has no response yet"
            if not record.status.is_terminal
            else f"request {response_id} is {record.status.value}: it has no response",
            status=record.status.value,
        )

    async def _missing(self, tenant: str, response_id: str) -> NotFound:
        if issued_to(await self.secret(), tenant, response_id):
            hours = self.policy.retention_s / 3600
            return Expired(
                f"request {response_id} has expired or was deleted: its inputs and outputs are "
                f"deleted {hours:g} h after it ends, or earlier by DELETE /v1/requests/{response_id}",
                response_id=response_id,
            )
        return NotFound(f"no request {response_id!r}", response_id=response_id)

    async def owner(self, response_id: str) -> str:
        """The tenant a stored request belongs to, whoever asks: how an admin acts on any
        tenant's request. Raises what :meth:`get` raises to the owner (:class:`Expired` is
        checked against each token, never the requests)."""
        tenant = await self.requests.owner(response_id)
        if tenant is not None:
            return tenant
        secret = await self.secret()
        issued = (token.id for token in await self.tokens.list() if issued_to(secret, token.id, response_id))
        raise await self._missing(next(issued, ""), response_id)

    async def wait(self, tenant: str, response_id: str, timeout: float) -> RequestRecord:
        """The request's state once it is terminal, or when ``timeout`` runs out; wakes on
        notifications of its changes, never by polling."""
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

    async def list_requests(
        self,
        tenant: str | None,
        *,
        status: Status | None = None,
        endpoint: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RequestRecord]:
        """The tenant's requests, newest first (every tenant's for ``tenant=None``)."""
        return await self.requests.list(tenant, status, endpoint, limit, before)

    async def delete(self, tenant: str, response_id: str) -> None:
        """Delete a finished request's data now, as retention would later; :class:`Conflict`
        while it is pending or running, and what :meth:`get` raises for one not the tenant's."""
        status = await self.requests.delete(tenant, response_id)
        if status is None:
            raise await self._missing(tenant, response_id)
        if not status.is_terminal:
            raise Conflict(
                f"request {response_id} is {status.value}: cancel it before deleting it", status=status.value
            )

    async def count_active(self, tenant: str, limit: int) -> int:
        """How many of ``tenant``'s requests are pending or running, counted up to ``limit``."""
        return await self.requests.count_active(tenant, limit)

    async def cancel(self, tenant: str, response_id: str) -> RequestRecord:
        """Cancel a pending or running request; a finished one is returned unchanged. A running
        request's worker learns of it at its next heartbeat; its output is discarded."""
        now = clock.now()
        record = await self.queue.cancel(tenant, response_id, now, self._expires_at(now))
        if record is None:
            raise await self._missing(tenant, response_id)
        if record.status is Status.CANCELLED:
            self._changed(record)
        return record

    # worker side ---------------------------------------------------------------

    async def claim(self, endpoint: str, worker_id: str, limit: int = 1) -> list[Claim]:
        """Lease the next ``limit`` pending requests of ``endpoint`` in fair order (fewer, or
        none, when fewer wait), counting an attempt of each."""
        now = clock.now()
        claims, gave_up = await self.queue.claim(endpoint, worker_id, now, self._expires_at(now), limit)
        for response_id in gave_up:
            self.bus.publish_changed(response_id)
        for claim in claims:
            self._changed(claim.record)
        return claims

    async def heartbeat(self, worker: WorkerInfo, lease_ids: list[str]) -> set[str]:
        """Record the worker as alive and extend its leases; returns the lease ids it lost."""
        await self.workers.beat(worker, clock.now())
        return await self.leases_lost(worker.worker_id, lease_ids)

    async def leases_lost(self, worker_id: str, lease_ids: list[str]) -> set[str]:
        """Extend the worker's leases; returns those it lost (cancelled, or taken over)."""
        return await self.queue.renew(worker_id, lease_ids, clock.now()) if lease_ids else set()

    async def report_progress(self, claim: Claim, progress: float) -> bool:
        """Record how far a running request has got (0 to 1) for its status and event
        stream; False (nothing stored) if the lease was lost. A claim starts at none."""
        stored = await self.queue.set_progress(claim, min(1.0, max(0.0, progress)))
        if stored:
            self.bus.publish_changed(claim.record.response_id)
        return stored

    async def checkpoint(self, claim: Claim, state: bytes, outputs: list[bytes]) -> bool:
        """Save a running request's checkpoint and the partial output made since the last one
        (see :meth:`Queue.checkpoint`); False if the lease was lost."""
        stored = await self.queue.checkpoint(claim, state, outputs)
        if stored:
            self.bus.publish_changed(claim.record.response_id)
        return stored

    async def resume_point(self, claim: Claim) -> tuple[bytes, list[bytes]] | None:
        """The last checkpoint of a claimed request and all its partial output, or None when
        it has none (a first attempt never has)."""
        if claim.record.attempts < 2:
            return None
        tenant, response_id = claim.record.tenant, claim.record.response_id
        state = await self.requests.checkpoint(tenant, response_id)
        if state is None:
            return None
        return state, await self.requests.partial(tenant, response_id, 0) or []

    async def partial(self, tenant: str, response_id: str, start: int = 0) -> list[bytes]:
        """The partial output of the tenant's request from index ``start``; raises what
        :meth:`get` raises for one that is not the tenant's."""
        pieces = await self.requests.partial(tenant, response_id, start)
        if pieces is None:
            raise await self._missing(tenant, response_id)
        return pieces

    async def complete(self, claim: Claim, output: bytes) -> bool:
        """Store the output and end the request; False (nothing stored) if the lease was lost."""
        return await self._finish(claim, lifecycle.COMPLETE, output, None)

    async def fail(self, claim: Claim, error_type: str, message: str) -> bool:
        """End the request as failed with the reason (a run stopped by its timeout when
        ``error_type`` is :data:`~inferq.domain.lifecycle.TIMEOUT_ERROR_TYPE`); False if the
        lease was lost."""
        move = lifecycle.TIME_OUT if error_type == lifecycle.TIMEOUT_ERROR_TYPE else lifecycle.FAIL
        return await self._finish(claim, move, None, (error_type, message))

    async def _finish(
        self, claim: Claim, move: lifecycle.Move, output: bytes | None, error: tuple[str, str] | None
    ) -> bool:
        now = clock.now()
        done = await self.queue.finish(claim, move, output, error, now, self._expires_at(now))
        if done:
            self._changed(claim.record)
        return done

    async def remove_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""
        await self.workers.remove(worker_id)

    async def endpoint_ready(self, endpoint: str) -> bool:
        """True while a worker of ``endpoint`` with its model loaded has a live heartbeat."""
        return await self.workers.ready(endpoint, clock.now())

    async def setup_error(self, endpoint: str) -> str | None:
        """The error of the last failed ``setup`` of a worker of ``endpoint``, until one is ready."""
        return await self.workers.setup_error(endpoint)

    async def release_worker(self, worker_id: str, reason: str) -> int:
        """Take back at once the requests of a worker its supervisor saw die (no need to wait
        for its leases), and forget it; returns how many requests it held."""
        now = clock.now()
        gave_up, requeued = await self.queue.release(worker_id, reason, now, self._expires_at(now))
        await self.workers.remove(worker_id)
        self._moved(gave_up, requeued)
        return len(gave_up) + len(requeued)

    async def miss_deadlines(self, limit: int = 1000) -> int:
        """Cancel up to ``limit`` requests whose deadline passed (their workers stop as for a
        cancel); returns how many."""
        now = clock.now()
        missed = await self.queue.miss_deadlines(now, self._expires_at(now), limit)
        for record in missed:
            self._changed(record)
        return len(missed)

    async def reap_leases(self) -> int:
        """Requeue (or give up on, past max attempts) requests whose lease expired; returns how many."""
        now = clock.now()
        gave_up, requeued = await self.queue.reap(now, self._expires_at(now))
        self._moved(gave_up, requeued)
        return len(gave_up) + len(requeued)

    async def expire(self, now: float, limit: int = 1000) -> int:
        """Delete up to ``limit`` terminal requests whose retention ended; returns how many."""
        return await self.requests.expire(now, limit)

    def _changed(self, record: RequestRecord) -> None:
        """Wake whoever waits on ``record``, and the deliverers when a move may have queued
        a delivery (a hint: they also look on a short timer)."""
        self.bus.publish_changed(record.response_id)
        if record.webhook is not None:
            self.bus.publish_webhooks()

    def _moved(self, gave_up: list[str], requeued: list[str]) -> None:
        for response_id in gave_up:
            self.bus.publish_changed(response_id)
        for endpoint in set(requeued):
            self.bus.publish_work(endpoint)

    # observation ---------------------------------------------------------------

    async def endpoint_stats(self, endpoint: str) -> EndpointStats:
        """The queue and workers of ``endpoint`` now; all zero for one never used. Costs what
        is queued, running and heartbeating, never what is retained."""
        now = clock.now()
        queue = await self.queue.stats(endpoint)
        workers, ready = await self.workers.counts(endpoint, now)
        oldest = queue.oldest_created_at
        age = None if oldest is None else max(0.0, now - oldest)
        return EndpointStats(queue.pending, queue.running, age, workers, ready)

    async def endpoint_totals(self, endpoint: str) -> EndpointTotals:
        """Requests of ``endpoint`` ended since the store was created, by status, and
        histograms of their queue wait, run time and end to end (:mod:`inferq.backends.counters`)."""
        return EndpointTotals.from_counters(await self.counters.read(endpoint))

    # webhooks ------------------------------------------------------------------

    async def webhook_secret(self, tenant: str) -> str:
        """The tenant's signing key, ``whsec_`` + base64 of 32 random bytes, made on first use."""
        fresh = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        return await self.outbox.signing_key(tenant, fresh)

    async def claim_webhooks(
        self, limit: int, busy: Mapping[str, int] | None = None, per_tenant: int | None = None
    ) -> list[WebhookLease]:
        """Lease up to ``limit`` deliveries that are due, for :data:`~inferq.policy.WEBHOOK_LEASE_S`,
        at most ``per_tenant`` per tenant counting its ``busy`` ones (see :meth:`Outbox.claim`)."""
        now = clock.now()
        lease_id = secrets.token_hex(8)
        return await self.outbox.claim(now, now + WEBHOOK_LEASE_S, lease_id, limit, busy or {}, per_tenant)

    async def record_webhook_attempt(
        self,
        lease: WebhookLease,
        attempt: WebhookAttempt,
        state: DeliveryState,
        next_attempt_at: float | None,
    ) -> bool:
        """Log an attempt and set the delivery's state; False if the lease no longer holds it."""
        return await self.outbox.record(lease, attempt, state, next_attempt_at)

    async def webhook_log(self, tenant: str, response_id: str) -> list[WebhookDelivery]:
        """The request's deliveries, oldest first, each with its attempts; raises as
        :meth:`get` does for a request that is not the tenant's or is gone."""
        deliveries = await self.outbox.log(tenant, response_id)
        if deliveries is None:
            raise await self._missing(tenant, response_id)
        return deliveries

    async def redeliver_webhook(self, tenant: str, response_id: str) -> WebhookDelivery:
        """Queue a fresh delivery (a new ``webhook-id``) of the request's latest event;
        :class:`Conflict` when it has no webhook or no event happened yet."""
        record = await self.get(tenant, response_id)
        if record.webhook is None:
            raise Conflict(f"request {response_id} was submitted without a webhook")
        delivery = await self.outbox.redeliver(tenant, response_id, new_webhook_id(), clock.now())
        if delivery is None:
            raise Conflict(
                f"request {response_id} has sent no webhook event yet (it is {record.status.value})",
                status=record.status.value,
            )
        self.bus.publish_webhooks()
        return delivery

    # tokens --------------------------------------------------------------------

    async def create_token(self, name: str, *, admin: bool = False) -> tuple[TokenInfo, str]:
        """Mint and store (hashed) a token; returns its info and the token, shown once."""
        token_id, token = new_token()
        info = TokenInfo(id=token_id, name=name, created_at=clock.now(), admin=admin)
        await self.tokens.create(info, token_hash(token))
        return info, token

    async def list_tokens(self) -> list[TokenInfo]:
        """Every token, revoked ones included, oldest first."""
        return await self.tokens.list()

    async def revoke_token(self, token_id: str) -> bool:
        """Revoke with immediate effect in this process, and in every other as soon as the
        bus tells it (see :mod:`inferq.backends.trusted_tokens`); False when no such token."""
        revoked = await self.tokens.revoke(token_id, clock.now())
        self._trusted.set()
        self.bus.publish_tokens()
        return revoked

    async def authenticate(self, token: str) -> TokenInfo | None:
        """The live token matching ``token``, or None."""
        digest, now = token_hash(token), time.monotonic()
        trusted = self._trusted.get(digest, now)
        if trusted is not None:
            return trusted
        generation = self._trusted.generation
        info = await self.tokens.find(digest)
        if info is not None:
            self._trusted.keep(digest, info, now, generation)
        return info

    @functools.cached_property
    def _trusted(self) -> TrustedTokens:
        """Made on first use, once the implementation has made its bus."""
        trusted = TrustedTokens(self.policy.token_trust_s)
        self.bus.follow_tokens(trusted)
        return trusted


def _place(at: Standing) -> Place:
    if at.turn is None:  # back after a lost worker: only the requeued ahead of it
        return scheduling.Place(at.requeued, at.requeued_cost)
    return scheduling.fair_place(at.rank, at.turn, at.others, at.requeued, at.requeued_cost)
