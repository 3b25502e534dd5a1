"""The submit use-case: what every door (predict, batch, and the doors to come) does to queue
requests, in one order, whatever HTTP shape the door speaks.

1. :meth:`Submit.admit`: the caller's submit rate, for as many requests as it asks for.
   It is cheap, so a door calls it as soon as it knows the count: before reading the
   body for a single submit, after decoding it for a batch.
2. :meth:`Submit.one` / :meth:`Submit.many`: every input validated against the
   endpoint's model (one bad input queues none), the queue limits, each request's cost
   (:mod:`inferq.gateway.costs`), its deadline against the queue's estimate, the enqueue
   (durable before it returns), the submit counter. They return the stored records; an
   idempotent replay returns the record stored the first time and counts nothing.

Doors only translate: HTTP → decoded :class:`~inferq.gateway.bodies.Body` and
:class:`SubmitOptions`, records → their answer.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from inferq.domain import clock
from inferq.domain.clock import isoformat
from inferq.domain.durations import format_duration
from inferq.domain.records import Submission
from inferq.errors import DeadlineUnmeetable, InvalidInput
from inferq.gateway.costs import estimate_cost
from inferq.gateway.request_options import Scheduling
from inferq.service.schema import validate_inputs

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from inferq.domain.records import RequestRecord
    from inferq.gateway.bodies import Body
    from inferq.gateway.state import Endpoint, GatewayState


@dataclass(frozen=True, slots=True)
class SubmitOptions:
    """What a submit asks for besides its inputs."""

    #: Same key and inputs → the same request; a batch's input ``i`` is keyed ``{key}/{i}``.
    idempotency_key: str | None = None
    #: Where the request's webhook events go, and which events.
    webhook: str | None = None
    webhook_events: tuple[str, ...] = ()
    scheduling: Scheduling = field(default_factory=Scheduling)
    #: The failed or cancelled request this submit re-runs.
    retry_of: str | None = None


@dataclass(frozen=True, slots=True)
class Submit:
    """One caller submitting to one endpoint."""

    state: GatewayState
    tenant: str
    endpoint: Endpoint

    def admit(self, count: int = 1) -> None:
        """Refuse (429) ``count`` submits beyond the caller's rate."""
        self.state.admission.check_rate(self.tenant, count)

    async def one(self, body: Body, options: SubmitOptions) -> RequestRecord:
        """Queue one request of ``body``; errors name its fields as they are."""
        validate_inputs(self.endpoint.inputs, body.value)
        [record] = await self._queue([body], options, lambda index, exc: exc, keyed=lambda key, index: key)
        return record

    async def many(self, bodies: Sequence[Body], options: SubmitOptions, field: str) -> list[RequestRecord]:
        """Queue a request of each of ``bodies``, in order, or none: an error names the bad
        one as ``{field}[i]``."""
        for index, body in enumerate(bodies):
            _validate_item(self.endpoint, f"{field}[{index}]", body)

        def named(index: int, exc: InvalidInput) -> InvalidInput:
            return _named(f"{field}[{index}]", exc)

        return await self._queue(bodies, options, named, keyed=lambda key, index: f"{key}/{index}")

    async def _queue(
        self,
        bodies: Sequence[Body],
        options: SubmitOptions,
        named: Callable[[int, InvalidInput], InvalidInput],
        keyed: Callable[[str, int], str],
    ) -> list[RequestRecord]:
        """Check the bodies' files and the queue limits, then enqueue them all. The files a body
        uploaded (multipart parts) are deleted again unless its request is new: on any error,
        and for an idempotent replay (whose request holds the first upload's files)."""
        key = options.idempotency_key
        try:
            for index, body in enumerate(bodies):
                try:
                    await self._check_files(body)
                except InvalidInput as exc:
                    raise named(index, exc) from None
            await self._check_queues(len(bodies))
            costs = [await estimate_cost(self.endpoint, self.state.uploads, body) for body in bodies]
            plan = options.scheduling
            pace = (await self.state.estimates.service_time(self.endpoint.name)).pace
            submissions = []
            for index, (body, cost) in enumerate(zip(bodies, costs, strict=True)):
                digest = body.digest or hashlib.sha256(body.raw).hexdigest()
                submissions.append(
                    Submission(
                        self.tenant,
                        self.endpoint.name,
                        body.raw,
                        None if key is None else keyed(key, index),
                        options.webhook,
                        options.webhook_events,
                        digest,
                        plan.priority,
                        cost,
                        pace,
                        plan.retention_s,
                        plan.cancel_after_s,
                        options.retry_of,
                        plan.reuse,
                        self._reuse_key(digest),
                    )
                )
            if plan.cancel_after_s is None:
                stored = await self.state.backend.enqueue_many(submissions)
            else:  # checked and queued with no other deadline's check between (see Estimates.reserving)
                async with self.state.estimates.reserving(self.endpoint.name):
                    await self._check_deadline(plan, costs)
                    stored = await self.state.backend.enqueue_many(submissions)
        except BaseException:
            await self._discard(bodies)
            raise
        await self._discard([body for body, (_, created) in zip(bodies, stored, strict=True) if not created])
        self._count(sum(created for _, created in stored))
        return [record for record, _ in stored]

    def _reuse_key(self, digest: str) -> str:
        """What makes two requests the same work: the token (so that no other token's request
        can ever answer one), the endpoint, its model's version and the inputs' hash."""
        identity = orjson.dumps([self.tenant, self.endpoint.name, self.endpoint.version, digest])
        return hashlib.sha256(identity).hexdigest()

    async def _discard(self, bodies: Sequence[Body]) -> None:
        files = [file_id for body in bodies for file_id in body.files]
        if files:
            await self.state.uploads.discard(self.tenant, files)

    async def _check_files(self, body: Body) -> None:
        """422 naming an input that refers to a file the caller cannot use."""
        allow_urls = self.state.settings.allow_url_inputs
        names = self.endpoint.file_inputs
        own = (*body.files, *body.borrowed)
        await self.state.uploads.check_inputs(self.tenant, body.value, names, allow_urls, own)

    async def _check_deadline(self, plan: Scheduling, costs: list[float]) -> None:
        """429 when the queue's estimate says the last of these could not end by the
        deadline: refused at once rather than accepted to expire, or to start and be
        stopped. Nothing is refused before the endpoint has run anything (no estimate)."""
        assert plan.cancel_after_s is not None
        times = await self.state.estimates.service_time(self.endpoint.name)
        place = await self.state.backend.place_of_new(
            self.endpoint.name, self.tenant, plan.priority, costs[-1], times.pace
        )
        now = clock.now()
        ahead = len(costs) - 1
        start = times.start(place.cost_ahead + sum(costs[:-1]), place.position + ahead, now)
        if start is None:
            return
        end = times.end(start, costs[-1])
        deadline = now + plan.cancel_after_s
        if end > deadline:
            raise DeadlineUnmeetable(
                f"the queue of {self.endpoint.name} could not finish this request before its deadline "
                f"(Cancel-After: {format_duration(plan.cancel_after_s)}): estimated to start at "
                f"{isoformat(start)} and end at {isoformat(end)}, {end - deadline:.1f} s too late",
                estimated_start_at=isoformat(start),
                estimated_completed_at=isoformat(end),
                retry_after=max(1, math.ceil(end - deadline)),
            )

    async def _check_queues(self, count: int) -> None:
        await self.state.admission.check_queues(self.state.backend, self.endpoint.name, self.tenant, count)

    def _count(self, created: int) -> None:
        if created:
            self.state.metrics.submitted.labels(self.endpoint.name).inc(created)


def _validate_item(endpoint: Endpoint, where: str, body: Body) -> None:
    try:
        validate_inputs(endpoint.inputs, body.value)
    except InvalidInput as exc:
        raise _named(where, exc) from None


def _named(where: str, exc: InvalidInput) -> InvalidInput:
    """``exc`` about the batch's input ``where``."""
    field = f"{where}.{exc.details['field']}"
    return InvalidInput(f"{where}.{exc.message}", **{**exc.details, "field": field})
