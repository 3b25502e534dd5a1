"""Reading requests: ``get``, ``get_many``, ``get_output(s)``, ``owner``, and which error says
"gone": :class:`Expired` for the caller's own request whose data was deleted, :class:`NotFound`
for anything else, another tenant's request included."""

from __future__ import annotations

import pytest

from inferq.backends import Backend
from inferq.domain import clock
from inferq.domain.status import Status
from inferq.errors import Conflict, Expired, NotFound
from tests.backends.helpers import ALICE, BOB, RETENTION_S, Opener, claim, completed, submit

pytestmark = pytest.mark.anyio


async def test_get_tells_the_state_with_a_queue_position_only_while_pending(backend: Backend) -> None:
    record = await submit(backend)
    assert (await backend.get(ALICE, record.response_id)).queue_position == 0
    taken = await claim(backend)
    running = await backend.get(ALICE, record.response_id)
    assert (running.status, running.queue_position, running.attempts) == (Status.RUNNING, None, 1)
    assert running.started_at is not None and running.started_at >= record.created_at
    await backend.complete(taken, b"{}")
    done = await backend.get(ALICE, record.response_id)
    assert (done.status, done.queue_position) == (Status.COMPLETED, None)
    assert done.completed_at is not None and done.completed_at >= done.started_at  # type: ignore[operator]


async def test_get_output_is_the_stored_output_byte_for_byte(backend: Backend) -> None:
    output = b'{"text":"caf\xc3\xa9"}\x00\xff  '
    done = await completed(backend, output=output)
    assert await backend.get_output(ALICE, done.response_id) == output


async def test_get_output_is_a_conflict_until_the_request_completed(backend: Backend) -> None:
    record = await submit(backend)
    with pytest.raises(Conflict) as pending:
        await backend.get_output(ALICE, record.response_id)
    assert pending.value.details["status"] == "pending"
    taken = await claim(backend)
    with pytest.raises(Conflict) as running:
        await backend.get_output(ALICE, record.response_id)
    assert running.value.details["status"] == "running"
    await backend.fail(taken, "inference_failed", "boom")
    with pytest.raises(Conflict) as failed:
        await backend.get_output(ALICE, record.response_id)
    assert failed.value.details["status"] == "failed"
    cancelled = await submit(backend)
    await backend.cancel(ALICE, cancelled.response_id)
    with pytest.raises(Conflict):
        await backend.get_output(ALICE, cancelled.response_id)


async def test_get_outputs_holds_the_tenant_s_completed_requests_only(backend: Backend) -> None:
    first = await completed(backend, output=b'{"out":1}')
    second = await completed(backend, output=b'{"out":2}')
    pending = await submit(backend)
    bobs = await completed(backend, BOB, output=b'{"bob":1}')
    asked = [first.response_id, pending.response_id, bobs.response_id, "nonsense", second.response_id]
    assert await backend.get_outputs(ALICE, asked) == {
        first.response_id: b'{"out":1}',
        second.response_id: b'{"out":2}',
    }
    assert await backend.get_outputs(BOB, asked) == {bobs.response_id: b'{"bob":1}'}
    assert await backend.get_outputs(ALICE, []) == {}


async def test_get_many_answers_each_id_as_get_would_without_queue_positions(backend: Backend) -> None:
    done = await completed(backend)
    deleted = await completed(backend)
    await backend.delete(ALICE, deleted.response_id)
    pending = await submit(backend)
    bobs = await submit(backend, BOB)
    asked = [done.response_id, "nonsense", pending.response_id, bobs.response_id, deleted.response_id]
    answers = await backend.get_many(ALICE, asked)
    assert list(answers) == asked
    found_pending, found_done = answers[pending.response_id], answers[done.response_id]
    assert not isinstance(found_pending, NotFound) and not isinstance(found_done, NotFound)
    assert (found_pending.status, found_pending.queue_position) == (Status.PENDING, None)
    assert (found_done.status, found_done.response_id) == (Status.COMPLETED, done.response_id)
    for gone in ("nonsense", bobs.response_id):
        assert type(answers[gone]) is NotFound, gone
    assert type(answers[deleted.response_id]) is Expired


async def test_another_tenant_s_request_is_not_found_never_expired_and_never_changed(
    backend: Backend,
) -> None:
    done = await completed(backend)
    record = await submit(backend)
    for response_id in (record.response_id, done.response_id):
        for call in (
            backend.get,
            backend.get_output,
            backend.cancel,
            backend.delete,
            backend.webhook_log,
            backend.redeliver_webhook,
            lambda tenant, response_id: backend.wait(tenant, response_id, 30),
        ):
            with pytest.raises(NotFound) as refused:
                await call(BOB, response_id)
            assert type(refused.value) is NotFound, call
    assert (await backend.get(ALICE, record.response_id)).status is Status.PENDING
    assert await backend.get_output(ALICE, done.response_id) == b'{"out":1}'


async def test_an_id_never_issued_is_not_found(backend: Backend) -> None:
    for response_id in ("nonsense", "", "a" * 200):
        with pytest.raises(NotFound) as refused:
            await backend.get(ALICE, response_id)
        assert type(refused.value) is NotFound
        with pytest.raises(NotFound):
            await backend.owner(response_id)


async def test_the_owner_s_deleted_or_expired_request_is_expired_and_another_s_view_is_not_found(
    backend: Backend,
) -> None:
    deleted = await completed(backend)
    await backend.delete(ALICE, deleted.response_id)
    retained = await completed(backend)
    assert await backend.expire(clock.now() + RETENTION_S + 1) == 1
    for response_id in (deleted.response_id, retained.response_id):
        with pytest.raises(Expired, match="expired") as gone:
            await backend.get(ALICE, response_id)
        assert gone.value.details["response_id"] == response_id
        for call in (backend.get_output, backend.cancel, backend.delete, backend.webhook_log):
            with pytest.raises(Expired):
                await call(ALICE, response_id)
        with pytest.raises(NotFound) as refused:
            await backend.get(BOB, response_id)
        assert type(refused.value) is NotFound


async def test_owner_names_the_tenant_of_any_stored_request(backend: Backend) -> None:
    alice, _ = await backend.create_token("alice")
    bob, _ = await backend.create_token("bob")
    bobs = await completed(backend, bob.id)
    alices = await submit(backend, alice.id)
    assert await backend.owner(alices.response_id) == alice.id
    assert await backend.owner(bobs.response_id) == bob.id


async def test_owner_of_a_deleted_request_of_a_token_is_expired(backend: Backend) -> None:
    token, _ = await backend.create_token("alice")
    done = await completed(backend, token.id)
    await backend.delete(token.id, done.response_id)
    with pytest.raises(Expired):
        await backend.owner(done.response_id)


async def test_an_id_minted_by_one_process_reads_alike_in_another(open_store: Opener) -> None:
    gateway, other = await open_store(), await open_store()
    done = await completed(gateway)
    assert (await other.get(ALICE, done.response_id)).status is Status.COMPLETED
    await gateway.delete(ALICE, done.response_id)
    with pytest.raises(Expired):
        await other.get(ALICE, done.response_id)
