"""The worker loop: claim → infer → complete, with lease heartbeats, woken by notification."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import socket
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import orjson

from inferq.backends import BackendUnavailable, WorkerInfo
from inferq.domain import lifecycle
from inferq.errors import InvalidInput
from inferq.service.running import Cancelled, Resume, Run, running
from inferq.service.schema import file_inputs
from inferq.webhooks.policy import AddressPolicy
from inferq.worker.attempt import Attempt
from inferq.worker.checkpoints import CheckpointWriter
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
T = TypeVar("T")

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
    """``infer`` went on past ``--cancel-grace`` after its request timed out or was
    cancelled. Its thread cannot be stopped, so the process must be replaced."""

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
        self.cancel_grace_s = settings.cancel_grace_s
        #: Given by a supervisor, which then names this id when it tells the backend we died.
        self.worker_id = worker_id or new_worker_id(endpoint)
        self.ready = False
        self.setup_error: str | None = None
        self._leases: set[str] = set()
        #: The call running each lease, to stop it when the lease is lost.
        self._attempts: dict[str, Attempt] = {}

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
        """Claim, run, store. A call's outcomes are stored while the slot claims and runs
        its next: the claim is sent first (a claim costs the store no disk sync, a result's
        store does), so a fast model's request costs the longer of its run and its store,
        not their sum. One store is in flight per slot."""
        outage = 0
        ended: list[tuple[Claim, Any]] = []  # the last call's outcomes, to be stored
        storing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                # Listen before claiming: work published between an empty claim and the wait
                # must still wake this slot.
                with self.backend.bus.watch_work(self.endpoint) as work:
                    claiming = asyncio.ensure_future(
                        self.backend.claim(self.endpoint, self.worker_id, self.service.batch_size)
                    )
                    if ended:
                        storing, ended = asyncio.create_task(self._store_all(ended)), []
                    try:
                        claims = await claiming
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
                    outcomes = await self._run(claims)
                except BaseException:
                    self._leases.difference_update(c.lease_id for c in claims)
                    raise
                if storing is not None:
                    await storing
                ended = outcomes
        finally:
            if storing is not None:
                await storing
            await self._store_all(ended)

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

    async def _run(self, claims: list[Claim]) -> list[tuple[Claim, Any]]:
        """Run the claims in one call (``infer``, or ``infer_batch`` for a batching Service):
        each claim with its outcome. A claim whose inputs cannot be made ready (a file that
        is gone) fails alone, before the call."""
        async with contextlib.AsyncExitStack() as files:
            prepared = [await self._inputs(claim, files) for claim in claims]
            ready = [
                (c, inputs) for c, inputs in zip(claims, prepared, strict=True) if isinstance(inputs, dict)
            ]
            outputs = iter(await self._call(ready) if ready else [])
            outcomes = [next(outputs) if isinstance(inputs, dict) else inputs for inputs in prepared]
        return list(zip(claims, outcomes, strict=True))

    async def _store_all(self, ended: list[tuple[Claim, Any]]) -> None:
        """Store each claim's outcome, then let go of its lease (heartbeats renew it until)."""
        try:
            for start in range(0, len(ended), STORES_AT_ONCE):  # together, so they can share commits
                await asyncio.gather(*(self._store(c, o) for c, o in ended[start : start + STORES_AT_ONCE]))
        finally:
            self._leases.difference_update(claim.lease_id for claim, _ in ended)

    async def _inputs(self, claim: Claim, files: contextlib.AsyncExitStack) -> dict[str, Any] | Exception:
        """The claim's inputs as the model takes them (file inputs as local paths), or why not."""
        try:
            inputs: dict[str, Any] = orjson.loads(claim.inputs)
            tenant = claim.record.tenant
            return await localise(inputs, self.file_inputs, tenant, self.sources, files)
        except Exception as exc:  # noqa: BLE001 - this request's inputs are unusable: it fails alone
            return exc

    async def _call(self, ready: list[tuple[Claim, dict[str, Any]]]) -> list[Any]:
        """Each claim's output, or the exception that fails it. While the model runs, its
        progress and checkpoints go to the store, and a cancel reaches it."""
        claims = [claim for claim, _ in ready]
        forwarders = [ProgressForwarder(self.backend, claim) for claim in claims]
        writer, resume = None, None
        if self.service.batch_size == 1:  # a batch has no one request to checkpoint
            [claim] = claims
            writer = CheckpointWriter(self.backend, claim, lost=lambda: self._lose({claim.lease_id}))
            resume = await self._resume(claim)

        def report(fraction: float) -> None:  # a batch's progress is each request's
            for forward in forwarders:
                forward(fraction)

        attempt = Attempt(claims, Run(report, writer or _not_saved, resume))
        self._attempts.update((claim.lease_id, attempt) for claim in claims)
        watcher = asyncio.create_task(self._watch(claims))
        try:
            return await self._infer(attempt, [inputs for _, inputs in ready])
        finally:
            watcher.cancel()
            for claim in claims:
                del self._attempts[claim.lease_id]
            for forwarder in forwarders:
                await forwarder.close()
            if writer is not None:
                await writer.close()

    async def _infer(self, attempt: Attempt, inputs: list[dict[str, Any]]) -> list[Any]:
        """The model's call in a thread, stopped when it outlives its timeout or every one of
        its requests is cancelled; running out of memory ends the process
        (see :class:`FatalModelError`)."""
        with running(attempt.run):  # the thread inherits the context the task is made in
            call = asyncio.ensure_future(asyncio.to_thread(self._model_call, inputs))
        halted = asyncio.ensure_future(attempt.halted.wait())
        try:
            await asyncio.wait({call, halted}, timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halted.cancel()
        if not call.done():
            await self._stop(attempt, call)
        count = len(attempt.claims)
        try:
            outputs = call.result()
        except MemoryError as exc:
            exc.__traceback__ = None  # its frames hold what the model allocated: free it first
            reason = describe(exc)
            for claim in attempt.claims:
                await _persist(functools.partial(self.backend.fail, claim, "inference_failed", reason))
            raise ModelOutOfMemory(f"request {attempt.name} ran out of memory") from None
        except (Exception, Cancelled) as exc:  # noqa: BLE001 - the model raised: each request of the call fails with it
            return [exc] * count
        if not isinstance(outputs, list) or len(outputs) != count:
            got = len(outputs) if isinstance(outputs, list) else type(outputs).__name__
            return [RuntimeError(f"infer_batch returned {got} results for {count} inputs")] * count
        return outputs

    def _model_call(self, inputs: list[dict[str, Any]]) -> list[Any]:
        if self.service.batch_size > 1:
            return self.service.infer_batch(inputs)
        return [self.service.infer(**inputs[0])]

    async def _stop(self, attempt: Attempt, call: asyncio.Future[list[Any]]) -> None:
        """Stop a call that timed out or whose requests were all cancelled: fail those that
        timed out, raise :class:`~inferq.service.Cancelled` into the model at its next
        step, and give it ``--cancel-grace``. A model that does not stop by then takes its
        process with it (:class:`ModelStuck`), since a thread cannot be stopped."""
        timed_out = not attempt.halted.is_set()
        if timed_out:
            message = f"timed out after {self.timeout_s:g} s"
            for claim in attempt.claims:
                await _persist(
                    functools.partial(self.backend.fail, claim, lifecycle.TIMEOUT_ERROR_TYPE, message)
                )
        attempt.halt()
        await asyncio.wait({call}, timeout=self.cancel_grace_s)
        if not call.done():
            why = "timed out" if timed_out else "was cancelled"
            raise ModelStuck(
                f"request {attempt.name} {why} and its model did not stop within {self.cancel_grace_s:g} s"
            )
        log.info("request %s stopped: %s", attempt.name, "timed out" if timed_out else "cancelled")

    async def _watch(self, claims: list[Claim]) -> None:
        """Learn of a cancel as it happens, from the store's notifications (heartbeats would
        learn of it a beat later): a change of a running request may be its end."""
        leases = [claim.lease_id for claim in claims]
        with self.backend.bus.watch_changes_of(claim.record.response_id for claim in claims) as changed:
            while True:
                await changed.event.wait()
                changed.take()
                try:
                    self._lose(await self.backend.leases_lost(self.worker_id, leases))
                except BackendUnavailable as exc:
                    log.info("could not check the leases of %s: %s", self.worker_id, exc)

    def _lose(self, lease_ids: set[str]) -> None:
        """The leases were lost (cancelled, or taken over): a call left with none stops."""
        for lease_id in lease_ids:
            attempt = self._attempts.get(lease_id)
            if attempt is not None:
                attempt.lose(lease_id)

    async def _resume(self, claim: Claim) -> Resume | None:
        """The checkpoint an earlier attempt of ``claim`` saved, as the model receives it."""
        point = await _persist(lambda: self.backend.resume_point(claim))
        if point is None:
            return None
        state, outputs = point
        log.info("request %s resumes from its checkpoint", claim.record.response_id)
        return Resume(orjson.loads(state), [orjson.loads(output) for output in outputs])

    async def _store(self, claim: Claim, outcome: Any) -> None:
        """Complete the claim with its output, or fail it with the exception it ended in
        (one the model stopped with on a cancel or timeout has ended already)."""
        if isinstance(outcome, Cancelled):
            return
        if not isinstance(outcome, BaseException):
            try:
                body = orjson.dumps(outcome, option=orjson.OPT_SERIALIZE_NUMPY)
            except TypeError as exc:
                outcome = exc
            else:
                if not await _persist(lambda: self.backend.complete(claim, body)):
                    log.info("request %s: lease lost, result discarded", claim.record.response_id)
                return
        if isinstance(outcome, InvalidInput):
            field = outcome.details.get("field")
            message = f"{field}: {outcome.message}" if field else outcome.message
            await _persist(lambda: self.backend.fail(claim, InvalidInput.type, message))
            return
        log.warning("request %s failed: %s", claim.record.response_id, type(outcome).__name__)
        await _persist(lambda: self.backend.fail(claim, "inference_failed", describe(outcome)))

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
        self._lose(lost)


async def _persist(write: Callable[[], Awaitable[T]]) -> T:
    """A store call the worker cannot do without (a result's write, a checkpoint's read),
    tried again while the store is down or its disk full: the worker waits rather than
    dying with what it holds."""
    outage = 0
    while True:
        try:
            return await write()
        except BackendUnavailable as exc:
            outage += 1
            log.warning("store unavailable (%s); trying again", exc)
            await asyncio.sleep(min(MAX_OUTAGE_BACKOFF_S, 0.1 * 2**outage))


def _not_saved(state: Any, outputs: list[Any]) -> None:
    """Where a batch's checkpoints go: nowhere (it has no one request to resume)."""


async def _first(*events: asyncio.Event, timeout: float) -> None:
    """Return when any of ``events`` is set or ``timeout`` passes."""
    waits = {asyncio.create_task(event.wait()) for event in events}
    await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()
