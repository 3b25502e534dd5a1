"""The backend's state machine, driven directly by hypothesis against a model of it.

The backend is the component under test, so both are real: ``SQLiteBackend`` on a
fresh file and ``RedisBackend`` on a fresh key prefix per example. Rules: enqueue (with
and without idempotency keys, keys repeated, the same key twice at once), claim (oldest
first), heartbeat, complete (also replayed, and with lost leases), fail, cancel, delete,
release_worker (a worker seen to exit, also right after a claim), and maintenance passes
(the clock moves, then reap_leases and expire). After every rule the model and the
store must agree, and every request is also read, cancelled, deleted and listed as the
other tenant.

The clock: the backends read :func:`inferq.domain.clock.now`, which each example replaces
with a fake that only the ``maintenance_pass`` and ``workers_die`` rules move (up to 1.5 x
the retention per step, so requests outlive their ``expires_at`` while still pending or
running). ``maintenance_pass`` then does what each gateway does every second:
``reap_leases``, then ``expire``.

Leases: SQLite judges them by that clock, so the machine lets them expire and checks
``reap_leases`` (requeue, or fail after ``max_attempts``). Redis judges them by its own
clock (stream idle time in real milliseconds), which a fake cannot move, so the Redis
machine runs with a one-hour lease that never runs out within an example: there
``reap_leases`` must change nothing, and claims never take over a lease. Requeueing and
failing after ``max_attempts`` are still driven on Redis through ``release_worker``,
which needs no clock. Redis lease expiry itself is tested with real short leases in
tests/backends/test_leases.py, and through real processes in tests/faults.

Invariants checked after every step:

- every status change observed is reachable by the moves of :data:`inferq.domain.lifecycle.TRANSITIONS`
  (one step may make several, as a claim and a dead worker's release);
- every request the model holds reads back with the model's status, owner, attempts and
  ``expires_at``; a completed one's output is the one its lease holder stored, stored
  once (a later ``complete``/``fail`` never replaces it or its ``completed_at``);
- ``expire`` deletes exactly the terminal requests whose ``expires_at`` passed, never a
  pending or running one however old; ``delete`` refuses an active one (``Conflict``);
  a deleted request reads as ``Expired`` to its owner and ``NotFound`` to anyone else;
- a claim takes the oldest pending request of one of the tenants with requests waiting
  (tenants take turns); a lost lease (SQLite) or a released worker requeues its request
  ahead of its tenant's newer ones, or fails it once it had ``max_attempts``;
- an idempotency key returns the same request for the same body and ``Conflict`` for
  another, and two submits of one key at once create one request;
- tenants never see each other's requests: ``get``, ``get_output``, ``cancel``,
  ``delete`` and ``list_requests`` of another tenant answer ``NotFound`` (never
  ``Expired``) or leave the request out, and change nothing;
- an admin's reads see every tenant's: ``owner`` names each stored request's tenant
  (``NotFound`` once deleted) and ``list_requests(None)`` lists them all, newest first.

The model and these invariants are in :mod:`tests.backends.state_model`. A third backend
joins with its store in :mod:`tests.backends.stores` and a machine here saying how its
leases behave. Bounded for CI: 50 examples of up to 30 steps per backend, deadline off.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, initialize, multiple, precondition, rule

from inferq.backends import WorkerInfo
from inferq.domain.records import Claim, Submission
from inferq.domain.status import ACTIVE, TERMINAL, Status
from inferq.errors import Conflict, Expired
from tests.backends.state_model import MAX_ATTEMPTS, RETENTION_S, RUNS, STEPS, TENANTS, ModelledBackend
from tests.backends.stores import unavailable

SQLITE_LEASE_S = 30.0
REDIS_LEASE_S = 3600.0  # never runs out within an example: see the module docstring
#: Submits pause while the store holds this many requests, so that steps go to their lives.
MAX_LIVE = 6

ENDPOINTS = ("echo", "other")
BODIES = (b'{"a":1}', b'{"a":2}', b'{"b":[1,2,3]}')
KEYS = (None, "k1", "k2")

SETTINGS = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class BackendMachine(ModelledBackend):
    """The rules: what clients, workers and gateways do to the store, each step checked."""

    claims = Bundle("claims")
    ids = Bundle("ids")

    # rules: submit ---------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        assert self.run(self.backend.list_requests(TENANTS[0])) == []

    @precondition(lambda self: len(self.requests) < MAX_LIVE)
    @rule(
        target=ids,
        tenant=st.sampled_from(TENANTS),
        endpoint=st.sampled_from(ENDPOINTS),
        body=st.sampled_from(BODIES),
        key=st.sampled_from(KEYS),
    )
    def enqueue(self, tenant: str, endpoint: str, body: bytes, key: str | None) -> Any:
        self.steps += 1
        prior = self._live_key(tenant, key)
        submission = Submission(tenant, endpoint, body, key)
        if prior is not None and prior.body != body:
            with pytest.raises(Conflict):
                self.run(self.backend.enqueue(submission))
            return multiple()
        record, created = self.run(self.backend.enqueue(submission))
        if prior is not None:
            assert not created
            assert record.response_id == prior.response_id
            return multiple()
        assert created
        assert record.status is Status.PENDING
        assert record.tenant == tenant and record.endpoint == endpoint
        assert record.response_id not in self.requests and record.response_id not in self.deleted
        self._new_model(record, body)
        if key is not None:
            self.idempotency[(tenant, key)] = record.response_id
        return record.response_id

    @precondition(lambda self: len(self.requests) < MAX_LIVE)
    @rule(target=ids, tenant=st.sampled_from(TENANTS), body=st.sampled_from(BODIES))
    def enqueue_one_key_twice_at_once(self, tenant: str, body: bytes) -> Any:
        """Two submits of a fresh key at the same moment (a client retrying): one request."""
        self.steps += 1
        key = f"race-{secrets.token_hex(4)}"
        submission = Submission(tenant, ENDPOINTS[0], body, key)

        async def both() -> list[Any]:
            return list(
                await asyncio.gather(self.backend.enqueue(submission), self.backend.enqueue(submission))
            )

        (first, created_first), (second, created_second) = self.run(both())
        assert first.response_id == second.response_id
        assert sorted([created_first, created_second]) == [False, True]
        self._new_model(first, body)
        self.idempotency[(tenant, key)] = first.response_id
        return first.response_id

    # rules: worker side ------------------------------------------------------------

    @rule(target=claims, endpoint=st.sampled_from(ENDPOINTS))
    def claim(self, endpoint: str) -> Any:
        self.steps += 1
        claim = self._claim(endpoint)
        return multiple() if claim is None else claim

    def _claim(self, endpoint: str) -> Claim | None:
        claims: list[Claim] = self.run(self.backend.claim(endpoint, _worker(endpoint)))
        claim = claims[0] if claims else None
        pending = sorted(
            (m for m in self.requests.values() if m.endpoint == endpoint and m.status is Status.PENDING),
            key=lambda m: m.order,
        )
        if not pending:
            assert claim is None
            return None
        assert claim is not None, f"{len(pending)} pending on {endpoint} but claim found none"
        # tenants take turns, so the claim is the oldest pending request of one of them
        # (requeued requests keep their place); which tenant's turn it is, HTTP tests show
        heads = {}
        for waiting in pending:
            heads.setdefault(waiting.tenant, waiting)
        assert claim.record.response_id in {head.response_id for head in heads.values()}
        model = self.requests[claim.record.response_id]
        assert claim.record.status is Status.RUNNING
        assert claim.inputs == model.body
        model.status = Status.RUNNING
        model.attempts += 1
        model.lease_id = claim.lease_id
        model.lease_expires_at = self.now + self.lease_s
        model.worker_id = _worker(endpoint)
        assert claim.record.attempts == model.attempts
        self.claimed += 1
        return claim

    @precondition(lambda self: self.claimed > 0)  # a list of a bundle is not disabled when it is empty
    @rule(claims=st.lists(claims, min_size=1, max_size=3, unique_by=lambda c: c.lease_id))
    def heartbeat(self, claims: list[Claim]) -> None:
        """Each endpoint's worker renews the leases it was given (live or lost)."""
        self.steps += 1
        held = {m.lease_id for m in self.requests.values() if m.status is Status.RUNNING}
        for endpoint in ENDPOINTS:
            leases = [c.lease_id for c in claims if c.record.endpoint == endpoint]
            if not leases:
                continue
            lost = self.run(self.backend.heartbeat(WorkerInfo(_worker(endpoint), endpoint, True), leases))
            assert lost == {lease for lease in leases if lease not in held}
        renewed = {c.lease_id for c in claims}
        for model in self.requests.values():
            if model.status is Status.RUNNING and model.lease_id in renewed:
                model.lease_expires_at = self.now + self.lease_s

    @precondition(lambda self: any(m.status is Status.RUNNING for m in self.requests.values()))
    @rule(endpoint=st.sampled_from(ENDPOINTS))
    def worker_exits(self, endpoint: str) -> None:
        """Its supervisor saw it die: its requests go back at once, or fail after max_attempts."""
        self.steps += 1
        self._release(endpoint)

    @rule(target=claims, endpoint=st.sampled_from(ENDPOINTS))
    def worker_crashes_on_its_next_request(self, endpoint: str) -> Any:
        """A model that kills its worker: claim, then the supervisor releases the worker."""
        self.steps += 1
        claim = self._claim(endpoint)
        self._release(endpoint)
        return multiple() if claim is None else claim

    def _release(self, endpoint: str) -> None:
        reason = "its worker exited"
        released = self.run(self.backend.release_worker(_worker(endpoint), reason))
        mine = [
            m
            for m in self.requests.values()
            if m.status is Status.RUNNING and m.worker_id == _worker(endpoint)
        ]
        assert released == len(mine)
        for model in mine:
            if model.attempts >= MAX_ATTEMPTS:
                self._end(model, Status.FAILED)
                record = self.run(self.backend.get(model.tenant, model.response_id))
                assert record.error == f"{reason}; giving up after {model.attempts} attempts"
            else:
                model.status = Status.PENDING
                model.lease_id = model.lease_expires_at = model.worker_id = None

    def _finish_expected(self, claim: Claim, status: Status) -> bool:
        model = self.requests.get(claim.record.response_id)
        if model is None:
            return False
        if model.status is Status.RUNNING and model.lease_id == claim.lease_id:
            return True
        # Redis answers a replay of the call that ended the request (same lease, same
        # outcome) with True again, so a retried complete is safe; it stores nothing new
        return (
            self.replayed_finish_is_true and model.status is status and model.finished_lease == claim.lease_id
        )

    @rule(claim=claims)
    def complete(self, claim: Claim) -> None:
        self.steps += 1
        self.outputs += 1
        output = b'{"out":%d}' % self.outputs
        expected = self._finish_expected(claim, Status.COMPLETED)
        assert self.run(self.backend.complete(claim, output)) is expected
        model = self.requests.get(claim.record.response_id)
        if model is not None and model.status is Status.RUNNING and expected:
            self._end(model, Status.COMPLETED)
            model.output = output
            model.finished_lease = claim.lease_id

    @rule(claim=claims, message=st.sampled_from(["boom", "ValueError: bad input"]))
    def fail(self, claim: Claim, message: str) -> None:
        self.steps += 1
        expected = self._finish_expected(claim, Status.FAILED)
        assert self.run(self.backend.fail(claim, "inference_failed", message)) is expected
        model = self.requests.get(claim.record.response_id)
        if model is not None and model.status is Status.RUNNING and expected:
            self._end(model, Status.FAILED)
            model.finished_lease = claim.lease_id

    # rules: the owner and the others ----------------------------------------------

    @rule(response_id=ids)
    def cancel(self, response_id: str) -> None:
        self.steps += 1
        model = self.requests.get(response_id)
        if model is None:
            with pytest.raises(Expired):
                self.run(self.backend.cancel(self.deleted[response_id], response_id))
            return
        record = self.run(self.backend.cancel(model.tenant, response_id))
        if model.status in ACTIVE:
            self._end(model, Status.CANCELLED)
        assert record.status is model.status

    @rule(response_id=ids)
    def delete(self, response_id: str) -> None:
        """The owner deletes a request now: only a finished one; an active one is a Conflict."""
        self.steps += 1
        model = self.requests.get(response_id)
        if model is None:
            with pytest.raises(Expired):
                self.run(self.backend.delete(self.deleted[response_id], response_id))
            return
        if model.status in ACTIVE:
            with pytest.raises(Conflict):
                self.run(self.backend.delete(model.tenant, response_id))
            return
        self.run(self.backend.delete(model.tenant, response_id))
        self.deleted[response_id] = self.requests.pop(response_id).tenant

    # rules: time and maintenance ----------------------------------------------------

    @rule(
        seconds=st.sampled_from(
            [0.0, 1.0, SQLITE_LEASE_S / 2, SQLITE_LEASE_S * 1.5, RETENTION_S / 2, RETENTION_S * 1.5]
        )
    )
    def maintenance_pass(self, seconds: float) -> None:
        """Time passes, then what each gateway does every second: reap_leases, then expire."""
        self.steps += 1
        self.now += seconds
        self._reap_leases()
        self._expire()

    @precondition(
        lambda self: (
            self.leases_follow_the_clock and any(m.status is Status.RUNNING for m in self.requests.values())
        )
    )
    @rule()
    def workers_die(self) -> None:
        """Every lease runs out (where leases follow the fake clock: see the module docstring),
        then reap_leases."""
        self.steps += 1
        self.now += self.lease_s * 1.5
        self._reap_leases()

    def _reap_leases(self) -> None:
        changed = self.run(self.backend.reap_leases())
        expected = 0
        for model in self.requests.values():
            if (
                model.status is Status.RUNNING
                and model.lease_expires_at is not None
                and model.lease_expires_at < self.now
            ):
                assert self.leases_follow_the_clock, "a lease of an hour ran out within a test"
                expected += 1
                if model.attempts >= MAX_ATTEMPTS:
                    self._end(model, Status.FAILED)
                else:
                    model.status = Status.PENDING
                    model.lease_id = model.lease_expires_at = None
        assert changed == expected

    def _expire(self) -> None:
        due = {rid for rid, m in self.requests.items() if m.status in TERMINAL and m.expires_at <= self.now}
        overdue_active = [
            rid for rid, m in self.requests.items() if m.status in ACTIVE and m.expires_at <= self.now
        ]
        assert self.run(self.backend.expire(self.now)) == len(due)
        for response_id in due:
            self.deleted[response_id] = self.requests.pop(response_id).tenant
        for response_id in overdue_active:  # past expires_at but pending or running: kept
            model = self.requests[response_id]
            assert self.run(self.backend.get(model.tenant, response_id)).status is model.status


def _worker(endpoint: str) -> str:
    return f"worker-{endpoint}"


class SQLiteMachine(BackendMachine):
    kind = "sqlite"
    lease_s = SQLITE_LEASE_S
    leases_follow_the_clock = True
    replayed_finish_is_true = False


class RedisMachine(BackendMachine):
    kind = "redis"
    lease_s = REDIS_LEASE_S
    leases_follow_the_clock = False
    replayed_finish_is_true = True


def _skipped_unless_available(kind: str) -> pytest.MarkDecorator:
    reason = unavailable(kind)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


TestSQLiteStateMachine = _skipped_unless_available("sqlite")(SQLiteMachine.TestCase)
TestSQLiteStateMachine.settings = SETTINGS
TestRedisStateMachine = _skipped_unless_available("redis")(RedisMachine.TestCase)
TestRedisStateMachine.settings = SETTINGS


def test_state_machine_report(capsys: pytest.CaptureFixture[str]) -> None:
    """How many examples and steps ran (the machines above run first, in file order)."""
    if not RUNS:
        pytest.skip("no state machine ran in this session")
    with capsys.disabled():
        for kind in sorted(RUNS):
            print(f"\n[{kind}] backend state machine: {RUNS[kind]} examples, {STEPS[kind]} steps")
    assert all(runs >= 10 for runs in RUNS.values()), RUNS
