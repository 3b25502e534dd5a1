"""The submit use-case: what every door (predict, batch, and the doors to come) does to queue
requests, in one order, whatever HTTP shape the door speaks.

1. :meth:`Submit.admit`: the caller's submit rate, for as many requests as it asks for.
   It is cheap, so a door calls it as soon as it knows the count: before reading the
   body for a single submit, after decoding it for a batch.
2. :meth:`Submit.one` / :meth:`Submit.many`: every input validated against the
   endpoint's model (one bad input queues none), the queue limits, the enqueue (durable
   before it returns), the submit counter. They return the stored records; an
   idempotent replay returns the record stored the first time and counts nothing.

Doors only translate: HTTP → decoded :class:`~inferq.gateway.bodies.Body` and
:class:`SubmitOptions`, records → their answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferq.domain.records import Submission
from inferq.errors import InvalidInput
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
            submissions = [
                Submission(
                    self.tenant,
                    self.endpoint.name,
                    body.raw,
                    None if key is None else keyed(key, index),
                    options.webhook,
                    options.webhook_events,
                    body.digest,
                )
                for index, body in enumerate(bodies)
            ]
            stored = await self.state.backend.enqueue_many(submissions)
        except BaseException:
            await self._discard(bodies)
            raise
        await self._discard([body for body, (_, created) in zip(bodies, stored, strict=True) if not created])
        self._count(sum(created for _, created in stored))
        return [record for record, _ in stored]

    async def _discard(self, bodies: Sequence[Body]) -> None:
        files = [file_id for body in bodies for file_id in body.files]
        if files:
            await self.state.uploads.discard(self.tenant, files)

    async def _check_files(self, body: Body) -> None:
        """422 naming an input that refers to a file the caller cannot use."""
        allow_urls = self.state.settings.allow_url_inputs
        names = self.endpoint.file_inputs
        await self.state.uploads.check_inputs(self.tenant, body.value, names, allow_urls, body.files)

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
