"""The worker loop: claim → infer → complete, with lease heartbeats, woken by notification."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from inferq.backends import BackendUnavailable, WorkerInfo
from inferq.errors import InvalidInput
from inferq.service.progress import reporting_to
from inferq.service.schema import file_inputs
from inferq.webhooks.policy import AddressPolicy
from inferq.worker.file_inputs import Sources, localise
from inferq.worker.limits import out_of_memory
from inferq.worker.progress import ProgressForwarder
from inferq.worker.url_inputs import URLFetcher

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from inferq.backends import Backend
    from inferq.blobs import BlobStore
    from inferq.domain.records import Claim
    from inferq.service.base import Service
    from inferq.settings import Settings

log = logging.getLogger(__name__)

#: While the store is down a worker keeps its model and retries claims, backing off up to this.
MAX_OUTAGE_BACKOFF_S = 5.0
#: The outcomes of a batch stored at once: a store commits them together (SQLite) or in
#: parallel (Redis, over as many connections).
STORES_AT_ONCE = 64
#: A setup error longer than this is cut short in the healthcheck (the log has it whole).
MAX_SETUP_ERROR = 2000


class FatalModelError(Exception):
    """The model left this process unfit to serve: its request has failed, and the process
    exits with ``exit_code`` so that its supervisor starts a fresh one (cog's fatal errors)."""

    exit_code: ClassVar[int]


class ModelStuck(FatalModelError):
    """``infer`` outlived its timeout. Its thread cannot be stopped, so the process must be replaced."""

    exit_code = 70


class ModelOutOfMemory(FatalModelError):
    """``infer`` hit the memory limit. After a ``MemoryError`` any allocation of the process
    may have failed, and a model that keeps what it grew would fail every later request."""

    exit_code = 71


def describe(exc: BaseException) -> str:
    """``Type: message``, as a failed request or setup reports an exception."""
    if isinstance(exc, MemoryError):
        return f"MemoryError: {out_of_memory()}"
    return f"{type(exc).__name__}: {exc}"


def new_worker_id(endpoint: str) -> str:
    return f"{endpoint}@{socket.gethostname()}/{secrets.token_hex(4)}"


class Worker:
    """Runs one Service for one endpoint, ``concurrency`` requests at a time.

    ``infer`` runs in a thread so that heartbeats and wake-ups keep flowing while the
    model works; a lease this worker lost (cancelled, or expired and given to another
    worker) makes its result be discarded rather than stored twice.
    """

    def __init__(
        self,
        backend: Backend,
        endpoint: str,
        service: Service,
        settings: Settings,
        worker_id: str | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.backend = backend
        self.endpoint = endpoint
        self.service = service
        self.file_inputs = file_inputs(type(service))
        urls = URLFetcher(AddressPolicy(settings.webhook_allow), settings.max_upload_bytes)
        self.sources = Sources(backend, blobs, urls)
        self.concurrency = settings.concurrency
        self.timeout_s = service.timeout_s or settings.timeout_s
        #: Given by a supervisor, which then names this id when it tells the backend we died.
        self.worker_id = worker_id or new_worker_id(endpoint)
        self.ready = False
        self.setup_error: str | None = None
        self._leases: set[str] = set()

    @property
    def running(self) -> int:
        """Requests this worker is running now."""
        return len(self._leases)

    @property
    def heartbeat_interval(self) -> float:
        return self.backend.policy.heartbeat_s

    async def run(self, stop: asyncio.Event) -> None:
        """Set the service up, then serve until ``stop`` is set."""
        beats = asyncio.create_task(self._heartbeats())
        try:
            await self._setup()
            self.ready = True
            await self._beat()
            log.info("worker %s ready", self.worker_id)
            slots = [asyncio.create_task(self._serve(stop)) for _ in range(self.concurrency)]
            await asyncio.gather(*slots)
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
            await self.backend.remove_worker(self.worker_id)

    async def _setup(self) -> None:
        """Run ``setup``; if it raises, report why in a heartbeat (the endpoint's healthcheck
        shows it) before the exception ends the process."""
        try:
            await asyncio.to_thread(self.service.setup)
        except Exception as exc:
            self.setup_error = describe(exc)[:MAX_SETUP_ERROR]
            with contextlib.suppress(BackendUnavailable):
                await self._beat()
            raise

    async def _serve(self, stop: asyncio.Event) -> None:
        outage = 0
        while not stop.is_set():
            # Listen before claiming: work published between an empty claim and the wait
            # must still wake this slot.
            with self.backend.bus.watch_work(self.endpoint) as work:
                try:
                    claims = await self.backend.claim(self.endpoint, self.worker_id, self.service.batch_size)
                except BackendUnavailable as exc:
                    outage += 1
                    log.warning("claim failed (%s); retrying", exc)
                    await asyncio.sleep(min(MAX_OUTAGE_BACKOFF_S, 0.1 * 2**outage))
                    continue
                outage = 0
                if not claims:
                    await self._idle(stop, work)
                    continue
            self._leases.update(claim.lease_id for claim in claims)
            try:
                if self.service.batch_size > 1:
                    await self._gather(claims, stop)
                await self._run(claims)
            finally:
                self._leases.difference_update(c.lease_id for c in claims)

    async def _idle(self, stop: asyncio.Event, work: asyncio.Event) -> None:
        """Wait for work, a stop, or the heartbeat interval (a lease may have expired meanwhile)."""
        await _first(stop, work, timeout=self.heartbeat_interval)

    async def _gather(self, claims: list[Claim], stop: asyncio.Event) -> None:
        """Claim more requests into ``claims`` until the batch is full or ``batch_wait_s`` has
        passed since the first: requests that arrive together then run as one call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.service.batch_wait_s
        while len(claims) < self.service.batch_size and not stop.is_set():
            with self.backend.bus.watch_work(self.endpoint) as work:
                try:
                    more = await self.backend.claim(
                        self.endpoint, self.worker_id, self.service.batch_size - len(claims)
                    )
                except BackendUnavailable:
                    return  # run what is claimed; the slot's loop handles the outage
                if more:
                    claims.extend(more)
                    self._leases.update(claim.lease_id for claim in more)
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                await _first(stop, work, timeout=remaining)

    async def _run(self, claims: list[Claim]) -> None:
        """Run the claims in one call (``infer``, or ``infer_batch`` for a batching Service)
        and store each outcome; a hang or running out of memory fails them all and ends
        the process (see :class:`FatalModelError`). A claim whose inputs cannot be made
        ready (a file that is gone) fails alone, before the call."""
        async with contextlib.AsyncExitStack() as files:
            prepared = [await self._inputs(claim, files) for claim in claims]
            ready = [
                (c, inputs) for c, inputs in zip(claims, prepared, strict=True) if isinstance(inputs, dict)
            ]
            forwarders = [ProgressForwarder(self.backend, claim) for claim, _ in ready]
            try:
                outputs = iter(await self._call(ready, forwarders) if ready else [])
            finally:
                for forwarder in forwarders:
                    await forwarder.close()
            outcomes = [next(outputs) if isinstance(inputs, dict) else inputs for inputs in prepared]
        ended = list(zip(claims, outcomes, strict=True))
        for start in range(0, len(ended), STORES_AT_ONCE):  # together, so they can share commits
            await asyncio.gather(*(self._store(c, o) for c, o in ended[start : start + STORES_AT_ONCE]))

    async def _inputs(self, claim: Claim, files: contextlib.AsyncExitStack) -> dict[str, Any] | Exception:
        """The claim's inputs as the model takes them (file inputs as local paths), or why not."""
        try:
            inputs: dict[str, Any] = orjson.loads(claim.inputs)
            tenant = claim.record.tenant
            return await localise(inputs, self.file_inputs, tenant, self.sources, files)
        except Exception as exc:  # noqa: BLE001 - this request's inputs are unusable: it fails alone
            return exc

    async def _call(
        self, ready: list[tuple[Claim, dict[str, Any]]], forwarders: list[ProgressForwarder]
    ) -> list[Any]:
        """Each claim's output, or the exception that fails it."""
        claims = [claim for claim, _ in ready]
        inputs = [each for _, each in ready]

        def report(fraction: float) -> None:  # a batch's progress is each request's
            for forward in forwarders:
                forward(fraction)

        try:
            with reporting_to(report):
                if self.service.batch_size > 1:
                    running = asyncio.to_thread(self.service.infer_batch, inputs)
                else:
                    running = asyncio.to_thread(lambda: [self.service.infer(**inputs[0])])
                outputs = await asyncio.wait_for(running, self.timeout_s)
        except TimeoutError:
            for claim in claims:
                await self.backend.fail(claim, "timeout", f"timed out after {self.timeout_s:g} s")
            raise ModelStuck(f"request {claims[0].record.response_id} timed out") from None
        except MemoryError as exc:
            exc.__traceback__ = None  # its frames hold what the model allocated: free it first
            for claim in claims:
                await self.backend.fail(claim, "inference_failed", describe(exc))
            raise ModelOutOfMemory(f"request {claims[0].record.response_id} ran out of memory") from None
        except Exception as exc:  # noqa: BLE001 - the model raised: each request of the batch fails with it
            return [exc] * len(claims)
        if not isinstance(outputs, list) or len(outputs) != len(claims):
            count = len(outputs) if isinstance(outputs, list) else type(outputs).__name__
            return [RuntimeError(f"infer_batch returned {count} results for {len(claims)} inputs")] * len(
                claims
            )
        return outputs

    async def _store(self, claim: Claim, outcome: Any) -> None:
        """Complete the claim with its output, or fail it with the exception it ended in."""
        if not isinstance(outcome, BaseException):
            try:
                body = orjson.dumps(outcome, option=orjson.OPT_SERIALIZE_NUMPY)
            except TypeError as exc:
                outcome = exc
            else:
                if not await _stored(lambda: self.backend.complete(claim, body)):
                    log.info("request %s: lease lost, result discarded", claim.record.response_id)
                return
        if isinstance(outcome, InvalidInput):
            field = outcome.details.get("field")
            message = f"{field}: {outcome.message}" if field else outcome.message
            await _stored(lambda: self.backend.fail(claim, InvalidInput.type, message))
            return
        log.warning("request %s failed: %s", claim.record.response_id, type(outcome).__name__)
        await _stored(lambda: self.backend.fail(claim, "inference_failed", describe(outcome)))

    async def _heartbeats(self) -> None:
        while True:
            try:
                await self._beat()
            except Exception as exc:  # noqa: BLE001 - the store is down: keep the model, try again
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(self.heartbeat_interval)

    async def _beat(self) -> None:
        info = WorkerInfo(self.worker_id, self.endpoint, self.ready, self.setup_error)
        lost = await self.backend.heartbeat(info, sorted(self._leases))
        for lease_id in lost:
            log.info("lease %s lost (cancelled or expired)", lease_id)


async def _stored(write: Callable[[], Awaitable[bool]]) -> bool:
    """A result's write, tried again while the store is down or its disk full: the worker
    waits with the result rather than dying with it. False if the lease was lost meanwhile."""
    outage = 0
    while True:
        try:
            return await write()
        except BackendUnavailable as exc:
            outage += 1
            log.warning("result not stored (%s); trying again", exc)
            await asyncio.sleep(min(MAX_OUTAGE_BACKOFF_S, 0.1 * 2**outage))


async def _first(*events: asyncio.Event, timeout: float) -> None:
    """Return when any of ``events`` is set or ``timeout`` passes."""
    waits = {asyncio.create_task(event.wait()) for event in events}
    await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()
