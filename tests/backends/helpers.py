"""What the contract tests share: the policy and names they use, and small steps (submit, run a
request to its end, wait for a condition)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from inferq.backends import Backend, WorkerInfo
from inferq.domain.records import Claim, RequestRecord, Submission
from inferq.policy import Policy

T = TypeVar("T")

#: Retention long enough that no key expires by itself within a test; ``expire`` is given
#: the moment to judge by, so retention is tested by passing a later one, never by sleeping.
RETENTION_S = 3600.0
#: Leases that do not run out within a test; tests of lost leases open a short one.
POLICY = Policy(retention_s=RETENTION_S, lease_s=30.0, max_attempts=2)


def short_leases(lease_s: float) -> Policy:
    """:data:`POLICY` with leases short enough to run out within a test."""
    return dataclasses.replace(POLICY, lease_s=lease_s)


#: ``open_store``: open and start another backend on the test's store, as another process would.
Opener = Callable[..., Awaitable[Backend]]

ALICE = "tok_alice"
BOB = "tok_bob"
ECHO = "echo"
OTHER = "other"
WORKER = "worker-1"


async def submit(
    backend: Backend,
    tenant: str = ALICE,
    endpoint: str = ECHO,
    inputs: bytes = b'{"n":1}',
    key: str | None = None,
    *,
    webhook: str | None = None,
    events: tuple[str, ...] = (),
) -> RequestRecord:
    """Enqueue one new request and return its record (the submit must create it)."""
    record, created = await backend.enqueue(Submission(tenant, endpoint, inputs, key, webhook, events))
    assert created
    return record


async def claim(backend: Backend, endpoint: str = ECHO, worker_id: str = WORKER) -> Claim:
    """The claim a worker gets now; fails the test when the queue gave nothing."""
    taken = await backend.claim(endpoint, worker_id)
    assert taken, f"nothing to claim on {endpoint}"
    [claimed] = taken
    return claimed


async def completed(
    backend: Backend, tenant: str = ALICE, endpoint: str = ECHO, output: bytes = b'{"out":1}'
) -> RequestRecord:
    """Submit a request, claim it and complete it with ``output``; its record once ended."""
    record = await submit(backend, tenant, endpoint)
    taken = await claim(backend, endpoint)
    assert taken.record.response_id == record.response_id
    assert await backend.complete(taken, output)
    return await backend.get(tenant, record.response_id)


def worker(worker_id: str = WORKER, endpoint: str = ECHO, *, ready: bool = True) -> WorkerInfo:
    return WorkerInfo(worker_id, endpoint, ready)


async def eventually(check: Callable[[], Awaitable[T]], what: str, timeout: float = 15.0) -> T:
    """Call ``check`` until it returns something truthy, as a real lease runs out; fail naming
    ``what`` at the deadline, which is there only so that a broken backend cannot hang the run."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)
