"""What the backend state machine expects the store to hold, and the checks after every step.

:class:`Model` is one request as the store must hold it; :class:`ModelledBackend` runs a real
backend beside the model and compares the two (its invariants). The rules that drive both
are in :mod:`tests.backends.test_state_machine`, whose docstring states what is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from hypothesis.stateful import RuleBasedStateMachine, invariant

from inferq.backends import open_backend
from inferq.domain import clock
from inferq.domain.lifecycle import TRANSITIONS
from inferq.domain.status import Status
from inferq.errors import Conflict, Expired, NotFound
from inferq.policy import Policy
from tests.backends.stores import STORES

RETENTION_S = 100.0
MAX_ATTEMPTS = 2
START = 1_700_000_000.0
TENANTS = ("tok_alice", "tok_bob")

#: Examples and steps run, per backend (printed by the last test of the machine).
STEPS: dict[str, int] = {}
RUNS: dict[str, int] = {}


def _reachable(status: Status) -> set[Status]:
    """The statuses one or more moves lead to from ``status``."""
    seen: set[Status] = set()
    frontier = set(TRANSITIONS[status])
    while frontier:
        seen |= frontier
        frontier = {after for before in frontier for after in TRANSITIONS[before]} - seen
    return seen


@dataclass
class Model:
    """What the store must hold about one request."""

    response_id: str
    tenant: str
    endpoint: str
    body: bytes
    order: int
    status: Status
    expires_at: float
    attempts: int = 0
    lease_id: str | None = None
    lease_expires_at: float | None = None
    worker_id: str | None = None
    finished_lease: str | None = None  # the lease that completed or failed it
    output: bytes | None = None
    completed_at: float | None = None


class ModelledBackend(RuleBasedStateMachine):
    """One backend on a fresh store and a persistent event loop, the model of what it must
    hold, and the invariants that compare the two after every step. Subclasses say which
    kind of store, and how its leases behave."""

    #: An entry of :data:`tests.backends.stores.STORES`.
    kind: ClassVar[str]
    lease_s: ClassVar[float]
    #: Whether the store judges leases by :func:`inferq.domain.clock.now` (so the fake clock
    #: can make them run out) rather than by a clock of its own.
    leases_follow_the_clock: ClassVar[bool]
    #: Whether a replay of the call that ended a request (same lease, same outcome) answers
    #: True again, storing nothing new, rather than False.
    replayed_finish_is_true: ClassVar[bool]

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.now = START
        self.requests: dict[str, Model] = {}
        self.deleted: dict[str, str] = {}  # response_id -> tenant
        self.idempotency: dict[tuple[str, str], str] = {}
        self.observed: dict[str, Status] = {}
        self.order = 0
        self.outputs = 0
        self.claimed = 0
        self.steps = 0
        self.store = STORES[self.kind]()
        policy = Policy(retention_s=RETENTION_S, lease_s=self.lease_s, max_attempts=MAX_ATTEMPTS)
        self.backend = open_backend(self.store.url, policy)
        try:
            self.run(self.backend.start())
        except BaseException:
            self.runner.close()
            self.store.drop()
            raise
        self._real_now = clock.now
        clock.now = lambda: self.now  # the fake every backend reads

    # plumbing ------------------------------------------------------------------

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    def teardown(self) -> None:
        try:
            self.run(self.backend.close())
            self.store.drop()
        finally:
            self.runner.close()
            clock.now = self._real_now
            STEPS[self.kind] = STEPS.get(self.kind, 0) + self.steps
            RUNS[self.kind] = RUNS.get(self.kind, 0) + 1

    def _new_model(self, record: Any, body: bytes) -> Model:
        self.order += 1
        model = Model(
            record.response_id,
            record.tenant,
            record.endpoint,
            body,
            self.order,
            Status.PENDING,
            self.now + RETENTION_S,
        )
        self.requests[record.response_id] = model
        return model

    def _live_key(self, tenant: str, key: str | None) -> Model | None:
        if key is None:
            return None
        response_id = self.idempotency.get((tenant, key))
        return self.requests.get(response_id) if response_id else None

    def _end(self, model: Model, status: Status) -> None:
        model.status = status
        model.completed_at = self.now
        model.expires_at = self.now + RETENTION_S
        model.lease_id = model.lease_expires_at = model.worker_id = None

    # invariants -----------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        self.run(self._store_matches_model())

    async def _store_matches_model(self) -> None:
        """Every read of one pass is independent of the others, so they are sent together."""
        live = list(self.requests.values())
        records, owners, outputs = await asyncio.gather(
            _each(self.backend.get(m.tenant, m.response_id) for m in live),
            _each(self.backend.owner(m.response_id) for m in live),  # how an admin reads it
            _each(self.backend.get_output(m.tenant, m.response_id) for m in live),
        )
        for model, record, owner, output in zip(live, records, owners, outputs, strict=True):
            response_id = model.response_id
            assert not isinstance(record, BaseException), record
            previous = self.observed.get(response_id, Status.PENDING)
            if record.status is not previous:
                assert record.status in _reachable(previous), f"{previous.value} -> {record.status.value}"
            self.observed[response_id] = record.status
            assert record.status is model.status, (response_id, record.status, model.status)
            assert record.tenant == model.tenant and record.endpoint == model.endpoint
            assert owner == model.tenant
            assert record.attempts == model.attempts
            assert record.expires_at == pytest.approx(model.expires_at)
            if model.completed_at is not None:
                assert record.completed_at == pytest.approx(model.completed_at)
            if model.status is Status.COMPLETED:
                assert output == model.output
            else:
                assert isinstance(output, Conflict), output
        deleted = list(self.deleted.items())
        gone, unowned = await asyncio.gather(
            _each(self.backend.get(owner, response_id) for response_id, owner in deleted),
            _each(self.backend.owner(response_id) for response_id, _ in deleted),
        )
        assert all(isinstance(answer, Expired) for answer in gone), gone
        assert all(isinstance(answer, NotFound) for answer in unowned), unowned
        await self._others_see_nothing(live, deleted)

    async def _others_see_nothing(self, live: list[Model], deleted: list[tuple[str, str]]) -> None:
        """The other tenant's reads, cancels and deletes of every request answer NotFound,
        never Expired (and so change nothing, as the next pass shows)."""
        calls = []
        for model in live:
            other = next(t for t in TENANTS if t != model.tenant)
            calls += [
                self.backend.get(other, model.response_id),
                self.backend.get_output(other, model.response_id),
                self.backend.cancel(other, model.response_id),
                self.backend.delete(other, model.response_id),
            ]
        for response_id, owner in deleted:
            other = next(t for t in TENANTS if t != owner)
            calls += [
                self.backend.get(other, response_id),
                self.backend.cancel(other, response_id),
                self.backend.delete(other, response_id),
            ]
        for answer in await _each(calls):
            assert isinstance(answer, NotFound) and not isinstance(answer, Expired), answer

    @invariant()
    def listings_are_per_tenant_and_newest_first(self) -> None:
        everyone, *per_tenant = self.run(
            _each(
                [self.backend.list_requests(None, limit=200)]
                + [
                    self.backend.list_requests(tenant, status=status, limit=200)
                    for tenant in TENANTS
                    for status in (None, Status.PENDING)
                ]
            )
        )
        assert [r.response_id for r in everyone] == [
            m.response_id for m in sorted(self.requests.values(), key=lambda m: -m.order)
        ]
        for tenant, listed, pending in zip(TENANTS, per_tenant[::2], per_tenant[1::2], strict=True):
            mine = sorted((m for m in self.requests.values() if m.tenant == tenant), key=lambda m: -m.order)
            assert [r.response_id for r in listed] == [m.response_id for m in mine]
            assert [r.response_id for r in pending] == [
                m.response_id for m in mine if m.status is Status.PENDING
            ]


async def _each(calls: Iterable[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Run ``calls`` together: each one's result, or the exception it raised."""
    return list(await asyncio.gather(*calls, return_exceptions=True))
