"""The webhook outbox: a delivery is created in the same step as the event (a first claim:
``start``; any end: ``completed``) when the request's filter asks for it; deliverers lease
due deliveries, record each attempt, and the owner reads the log or asks for a redelivery."""

from __future__ import annotations

import base64

import pytest

from inferq.backends import Backend
from inferq.domain import clock
from inferq.domain.records import RequestRecord
from inferq.domain.status import Status
from inferq.domain.webhooks import DeliveryState, WebhookAttempt
from inferq.errors import Conflict, Expired
from tests.backends.helpers import ALICE, BOB, Opener, claim, completed, submit

pytestmark = pytest.mark.anyio

HOOK = "https://hooks.example/inferq"
BOTH = ("start", "completed")


async def hooked(backend: Backend, events: tuple[str, ...] = BOTH, tenant: str = ALICE) -> RequestRecord:
    return await submit(backend, tenant, webhook=HOOK, events=events)


async def events_of(backend: Backend, record: RequestRecord) -> list[str]:
    return [d.event for d in await backend.webhook_log(record.tenant, record.response_id)]


async def test_the_webhook_secret_is_made_once_per_tenant_and_shared_by_every_process(
    open_store: Opener,
) -> None:
    first, second = await open_store(), await open_store()
    secret = await first.webhook_secret(ALICE)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert await first.webhook_secret(ALICE) == secret == await second.webhook_secret(ALICE)
    assert await second.webhook_secret(BOB) not in (secret, None)


async def test_the_stored_request_keeps_its_webhook_and_events(backend: Backend) -> None:
    record = await hooked(backend, ("start",))
    stored = await backend.get(ALICE, record.response_id)
    assert (stored.webhook, stored.webhook_events) == (HOOK, ("start",))


async def test_a_first_claim_and_an_end_create_the_deliveries_the_filter_asks_for(backend: Backend) -> None:
    both = await hooked(backend)
    ends_only = await hooked(backend, ("completed",))
    starts_only = await hooked(backend, ("start",))
    plain = await submit(backend)
    assert [await events_of(backend, r) for r in (both, ends_only, starts_only, plain)] == [[], [], [], []]
    claims = [await claim(backend) for _ in range(4)]
    assert [await events_of(backend, r) for r in (both, ends_only, starts_only, plain)] == [
        ["start"],
        [],
        ["start"],
        [],
    ]
    for taken in claims:
        await backend.complete(taken, b"{}")
    assert [await events_of(backend, r) for r in (both, ends_only, starts_only, plain)] == [
        ["start", "completed"],
        ["completed"],
        ["start"],
        [],
    ]
    log = await backend.webhook_log(ALICE, both.response_id)
    assert len({d.webhook_id for d in log}) == 2
    assert all(d.webhook_id.startswith("msg_") for d in log)
    assert all((d.url, d.state, d.attempts) == (HOOK, DeliveryState.PENDING, ()) for d in log)


async def test_every_end_is_an_event_and_only_the_first_claim_starts(backend: Backend) -> None:
    cancelled_pending = await hooked(backend)
    await backend.cancel(ALICE, cancelled_pending.response_id)
    released = await hooked(backend)
    for attempt in (1, 2):
        taken = await claim(backend, worker_id=f"doomed-{attempt}")
        assert taken.record.response_id == released.response_id
        await backend.release_worker(f"doomed-{attempt}", "its worker exited")
    failed = await hooked(backend)
    await backend.fail(await claim(backend), "inference_failed", "boom")
    assert await events_of(backend, cancelled_pending) == ["completed"]
    assert await events_of(backend, released) == ["start", "completed"]
    assert await events_of(backend, failed) == ["start", "completed"]


async def test_claim_webhooks_leases_each_due_delivery_to_one_caller(open_store: Opener) -> None:
    gateway, deliverer, other = await open_store(), await open_store(), await open_store()
    record = await hooked(gateway)
    await gateway.complete(await claim(gateway), b"{}")
    done = await gateway.get(ALICE, record.response_id)
    leases = await deliverer.claim_webhooks(10)
    assert sorted(lease.event for lease in leases) == ["completed", "start"]
    assert {(lease.response_id, lease.tenant, lease.url, lease.attempts_made) for lease in leases} == {
        (record.response_id, ALICE, HOOK, 0)
    }
    happened = {lease.event: lease.created_at for lease in leases}
    assert happened == pytest.approx({"start": done.started_at, "completed": done.completed_at})
    assert await other.claim_webhooks(10) == []
    assert await deliverer.claim_webhooks(10) == []


async def test_claim_webhooks_takes_at_most_its_limit_soonest_due_first(backend: Backend) -> None:
    records = [await hooked(backend, ("completed",)) for _ in range(3)]
    for record in records:
        await backend.cancel(ALICE, record.response_id)
    first = await backend.claim_webhooks(2)
    rest = await backend.claim_webhooks(2)
    assert [lease.response_id for lease in first + rest] == [r.response_id for r in records]


async def test_a_claim_gives_no_tenant_more_than_its_share_and_the_others_come_through(
    backend: Backend,
) -> None:
    backlog = [await hooked(backend, ("completed",)) for _ in range(6)]  # due first
    other = await hooked(backend, ("completed",), tenant=BOB)
    for record in [*backlog, other]:
        await backend.cancel(record.tenant, record.response_id)
    leases = await backend.claim_webhooks(10, {}, per_tenant=2)
    assert [lease.response_id for lease in leases] == [
        backlog[0].response_id,
        backlog[1].response_id,
        other.response_id,
    ]
    assert await backend.claim_webhooks(10, {ALICE: 2}, per_tenant=2) == []  # its share is in flight
    more = await backend.claim_webhooks(10, {ALICE: 1}, per_tenant=2)
    assert [lease.response_id for lease in more] == [backlog[2].response_id]


async def test_a_recorded_attempt_ends_the_lease_and_a_retry_comes_due_again(backend: Backend) -> None:
    record = await hooked(backend, ("completed",))
    await backend.cancel(ALICE, record.response_id)
    [lease] = await backend.claim_webhooks(10)
    refused = WebhookAttempt(at=clock.now(), status_code=503, error=None, duration_ms=12.5)
    due = clock.now() - 1
    assert await backend.record_webhook_attempt(lease, refused, DeliveryState.PENDING, due)
    assert not await backend.record_webhook_attempt(lease, refused, DeliveryState.PENDING, due)
    [delivery] = await backend.webhook_log(ALICE, record.response_id)
    assert (delivery.state, delivery.next_attempt_at, delivery.attempts) == (
        DeliveryState.PENDING,
        pytest.approx(due),
        (refused,),
    )
    [retry] = await backend.claim_webhooks(10)
    assert (retry.webhook_id, retry.attempts_made) == (lease.webhook_id, 1)
    assert retry.lease_id != lease.lease_id
    sent = WebhookAttempt(at=clock.now(), status_code=None, error="connection refused", duration_ms=3.0)
    assert not await backend.record_webhook_attempt(lease, sent, DeliveryState.DELIVERED, None)
    assert await backend.record_webhook_attempt(retry, sent, DeliveryState.DELIVERED, None)
    [delivery] = await backend.webhook_log(ALICE, record.response_id)
    assert (delivery.state, delivery.next_attempt_at, delivery.attempts) == (
        DeliveryState.DELIVERED,
        None,
        (refused, sent),
    )
    assert await backend.claim_webhooks(10) == []


async def test_a_delivery_not_yet_due_is_not_leased(backend: Backend) -> None:
    record = await hooked(backend, ("completed",))
    await backend.cancel(ALICE, record.response_id)
    [lease] = await backend.claim_webhooks(10)
    attempt = WebhookAttempt(at=clock.now(), status_code=500, error=None, duration_ms=1.0)
    assert await backend.record_webhook_attempt(lease, attempt, DeliveryState.PENDING, clock.now() + 3600)
    assert await backend.claim_webhooks(10) == []


async def test_a_failed_delivery_is_never_leased_again(backend: Backend) -> None:
    record = await hooked(backend, ("completed",))
    await backend.cancel(ALICE, record.response_id)
    [lease] = await backend.claim_webhooks(10)
    attempt = WebhookAttempt(at=clock.now(), status_code=None, error="address refused", duration_ms=0.0)
    assert await backend.record_webhook_attempt(lease, attempt, DeliveryState.FAILED, None)
    [delivery] = await backend.webhook_log(ALICE, record.response_id)
    assert (delivery.state, delivery.next_attempt_at) == (DeliveryState.FAILED, None)
    assert await backend.claim_webhooks(10) == []


async def test_redeliver_queues_a_fresh_delivery_of_the_latest_event(backend: Backend) -> None:
    record = await hooked(backend)
    await claim(backend)
    [started] = await backend.webhook_log(ALICE, record.response_id)
    again = await backend.redeliver_webhook(ALICE, record.response_id)
    assert (again.event, again.url, again.state, again.attempts) == ("start", HOOK, DeliveryState.PENDING, ())
    assert again.webhook_id not in (None, started.webhook_id)
    log = await backend.webhook_log(ALICE, record.response_id)
    assert [d.webhook_id for d in log] == [started.webhook_id, again.webhook_id]
    leased = {lease.webhook_id: lease for lease in await backend.claim_webhooks(10)}
    assert set(leased) == {started.webhook_id, again.webhook_id}
    assert leased[again.webhook_id].created_at == pytest.approx(leased[started.webhook_id].created_at)
    await backend.cancel(ALICE, record.response_id)
    latest = await backend.redeliver_webhook(ALICE, record.response_id)
    assert latest.event == "completed"
    assert [d.event for d in await backend.webhook_log(ALICE, record.response_id)] == [
        "start",
        "start",
        "completed",
        "completed",
    ]


async def test_redeliver_is_a_conflict_without_a_webhook_or_before_any_event(backend: Backend) -> None:
    done = await completed(backend)
    with pytest.raises(Conflict, match="without a webhook"):
        await backend.redeliver_webhook(ALICE, done.response_id)
    assert await backend.webhook_log(ALICE, done.response_id) == []
    waiting = await hooked(backend, ("completed",))
    with pytest.raises(Conflict) as refused:
        await backend.redeliver_webhook(ALICE, waiting.response_id)
    assert refused.value.details["status"] == Status.PENDING.value
    assert await backend.webhook_log(ALICE, waiting.response_id) == []


async def test_deliveries_go_with_their_request(backend: Backend) -> None:
    record = await hooked(backend, ("completed",))
    await backend.cancel(ALICE, record.response_id)
    [lease] = await backend.claim_webhooks(10)
    await backend.delete(ALICE, record.response_id)
    attempt = WebhookAttempt(at=clock.now(), status_code=200, error=None, duration_ms=1.0)
    assert not await backend.record_webhook_attempt(lease, attempt, DeliveryState.DELIVERED, None)
    with pytest.raises(Expired):
        await backend.webhook_log(ALICE, record.response_id)
    with pytest.raises(Expired):
        await backend.redeliver_webhook(ALICE, record.response_id)
    assert await backend.claim_webhooks(10) == []


async def test_expired_requests_take_their_pending_deliveries_with_them(backend: Backend) -> None:
    record = await hooked(backend, ("completed",))
    ended = await backend.cancel(ALICE, record.response_id)
    assert await backend.expire(ended.expires_at) == 1
    assert await backend.claim_webhooks(10) == []
