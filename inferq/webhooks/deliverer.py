"""The gateway's webhook sender: claims due deliveries from the outbox and POSTs them.

Every gateway runs one. Claims are leases in the store, so gateways sharing a store
never send one delivery at the same time; a gateway that dies mid-send loses its lease
and another sends the delivery again (at least once, with the same ``webhook-id``). It
wakes when the store announces a queued delivery, when a retry it scheduled falls due,
and every :data:`POLL_S` for what was queued without an announcement (a lost lease's
failure, another gateway's retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import TYPE_CHECKING

import httpx

from inferq.backends import BackendUnavailable
from inferq.domain import clock
from inferq.domain.status import Status
from inferq.domain.webhooks import DeliveryState, WebhookAttempt
from inferq.errors import NotFound
from inferq.policy import WEBHOOK_TIMEOUT_S
from inferq.webhooks.events import payload
from inferq.webhooks.policy import AddressPolicy, Refused
from inferq.webhooks.schedule import next_attempt_at
from inferq.webhooks.signing import signed_headers

if TYPE_CHECKING:
    from prometheus_client import Counter

    from inferq.backends import Backend
    from inferq.domain.webhooks import WebhookLease
    from inferq.settings import Settings

log = logging.getLogger(__name__)

#: How often the outbox is read with no announcement.
POLL_S = 1.0
#: Deliveries this gateway sends at once; more wait in the outbox.
MAX_IN_FLIGHT = 32
#: Of those, what one tenant may hold: its slow receivers slow its own deliveries, while
#: other tenants' still find a slot.
PER_TENANT_IN_FLIGHT = 8
#: A timer may fire a little before the wall clock reaches its time: wake this much later.
TIMER_SLACK_S = 0.01


class Deliverer:
    """Sends due deliveries of ``backend``, counting each attempt's result in ``results``."""

    def __init__(self, backend: Backend, settings: Settings, results: Counter) -> None:
        self.backend = backend
        self.retry_base_s = settings.webhook_retry_base_s
        self.policy = AddressPolicy(settings.webhook_allow)
        self.base_url = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        self.results = results
        self._secrets: dict[str, str] = {}
        self._sending: set[asyncio.Task[None]] = set()
        #: Deliveries in flight, per tenant.
        self._busy: dict[str, int] = {}

    async def run(self) -> None:
        """Send due deliveries until cancelled; deliveries in flight then go back to the
        outbox when their lease ends."""
        transport = httpx.AsyncHTTPTransport(retries=0)
        async with httpx.AsyncClient(transport=transport, timeout=WEBHOOK_TIMEOUT_S, trust_env=False) as http:
            with self.backend.bus.watch_webhooks() as woken:
                try:
                    while True:
                        woken.clear()
                        await self._send_due(http, woken)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(woken.wait(), POLL_S)
                finally:
                    for task in self._sending:
                        task.cancel()
                    await asyncio.gather(*self._sending, return_exceptions=True)

    async def _send_due(self, http: httpx.AsyncClient, woken: asyncio.Event) -> None:
        room = MAX_IN_FLIGHT - len(self._sending)
        if room <= 0:
            return
        try:
            leases = await self.backend.claim_webhooks(room, self._busy, PER_TENANT_IN_FLIGHT)
        except BackendUnavailable as exc:
            log.warning("webhooks not claimed: %s", exc)
            return
        except Exception:
            log.exception("webhooks not claimed; trying again")
            return
        for lease in leases:
            task = asyncio.create_task(self._deliver(http, lease, woken))
            self._sending.add(task)
            self._busy[lease.tenant] = self._busy.get(lease.tenant, 0) + 1
            task.add_done_callback(functools.partial(self._sent, lease.tenant))

    def _sent(self, tenant: str, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        left = self._busy.pop(tenant) - 1
        if left:
            self._busy[tenant] = left

    async def _deliver(self, http: httpx.AsyncClient, lease: WebhookLease, woken: asyncio.Event) -> None:
        try:
            body = await self._body(lease)
            secret = await self._secret(lease.tenant)
        except NotFound:
            return  # the request is gone, and its deliveries with it
        except Exception:
            log.exception("webhook %s of request %s: payload not built", lease.webhook_id, lease.response_id)
            return  # the lease runs out and the delivery is tried again
        started, clock_started = clock.now(), time.monotonic()
        status_code, error, refused = await self._post(http, lease, body, secret, started)
        attempt = WebhookAttempt(started, status_code, error, (time.monotonic() - clock_started) * 1000)
        state, retry_at = self._next(lease, status_code, refused)
        try:
            await self.backend.record_webhook_attempt(lease, attempt, state, retry_at)
        except Exception:
            log.exception(
                "webhook %s: attempt not recorded; it is sent again after its lease", lease.webhook_id
            )
            return
        self.results.labels("refused" if refused else "retrying" if retry_at else state.value).inc()
        if retry_at is not None:
            asyncio.get_running_loop().call_later(max(0.0, retry_at - clock.now()) + TIMER_SLACK_S, woken.set)
        elif state is DeliveryState.FAILED:
            log.warning(
                "webhook %s of request %s failed for good: %s", lease.webhook_id, lease.response_id, error
            )

    def _next(
        self, lease: WebhookLease, status_code: int | None, refused: bool
    ) -> tuple[DeliveryState, float | None]:
        """The delivery's state after this attempt, and when to try again if it is pending."""
        if status_code is not None and 200 <= status_code < 300:
            return DeliveryState.DELIVERED, None
        retry_at = (
            None if refused else next_attempt_at(lease.attempts_made + 1, self.retry_base_s, clock.now())
        )
        return (DeliveryState.FAILED, None) if retry_at is None else (DeliveryState.PENDING, retry_at)

    async def _body(self, lease: WebhookLease) -> bytes:
        record = await self.backend.get(lease.tenant, lease.response_id)
        output = None
        if lease.event == "completed" and record.status is Status.COMPLETED:
            output = await self.backend.get_output(lease.tenant, lease.response_id)
        return payload(lease, record, output, f"{self.base_url}/v1/requests/{lease.response_id}/response")

    async def _post(
        self, http: httpx.AsyncClient, lease: WebhookLease, body: bytes, secret: str, now: float
    ) -> tuple[int | None, str | None, bool]:
        """One attempt: (the receiver's status, what went wrong, whether the policy refused it)."""
        try:
            target = await self.policy.target(lease.url)
        except Refused as exc:
            return None, str(exc), True
        except OSError as exc:
            return None, f"could not resolve {httpx.URL(lease.url).host}: {exc}", False
        headers = {**signed_headers(secret, lease.webhook_id, body, now), **target.headers}
        try:
            request = http.build_request(
                "POST", target.url, content=body, headers=headers, extensions=target.extensions
            )
            # one deadline for the whole attempt: a receiver that answers a byte at a time
            # passes every per-read timeout, and would hold its sending slot for ever
            response = await asyncio.wait_for(http.send(request, stream=True), WEBHOOK_TIMEOUT_S)
            await response.aclose()  # the status is all we need; never read what a receiver sends
        except (httpx.TimeoutException, TimeoutError):
            return None, f"no answer within {WEBHOOK_TIMEOUT_S:g} s", False
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}", False
        if 200 <= response.status_code < 300:
            return response.status_code, None, False
        return response.status_code, f"the receiver answered {response.status_code}", False

    async def _secret(self, tenant: str) -> str:
        if tenant not in self._secrets:
            self._secrets[tenant] = await self.backend.webhook_secret(tenant)
        return self._secrets[tenant]
