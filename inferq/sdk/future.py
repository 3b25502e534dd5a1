"""InferenceFuture: the handle of a queued request, serialisable and resumable anywhere."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, PrivateAttr

if TYPE_CHECKING:
    from inferq.sdk._base import BaseClient
    from inferq.sdk.async_client import AsyncClient
    from inferq.sdk.client import Client

__all__ = ["InferenceFuture"]


class InferenceFuture(BaseModel):
    """A request that was accepted and will finish later; OctoAI's ``InferenceFuture`` fields.

    Only ``response_id`` and ``poll_url`` are data: ``future.model_dump_json()`` can be
    stored and ``InferenceFuture.model_validate_json(saved)`` resumed in another process.
    The client that created a future is remembered (never serialised) so that
    :meth:`result` and :meth:`cancel` need no arguments; a resumed future uses a new
    client configured from the environment (``INFERQ_TOKEN``, ``INFERQ_BASE_URL``).
    """

    response_id: str
    poll_url: str

    _client: BaseClient | None = PrivateAttr(default=None)
    #: The request's final state (with its outputs when it completed) as ``as_completed``
    #: received it, so that :meth:`result` answers without another call.
    _ended: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def client(self) -> BaseClient | None:
        """The client this future uses, or None for a resumed one (it will use the environment)."""
        return self._client

    def settle(self, state: dict[str, Any]) -> None:
        """Record the final state a wait on many futures delivered (outputs in ``"output"``)."""
        self._ended = state

    @property
    def ended(self) -> dict[str, Any] | None:
        """The final state :meth:`settle` recorded, or None."""
        return self._ended

    def bind(self, client: BaseClient) -> InferenceFuture:
        """Use ``client`` for :meth:`result`, :meth:`cancel` and their async forms; returns self."""
        self._client = client
        return self

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait (with long polls) until the request ends and return its outputs.

        Raises :class:`~inferq.InferenceFailed` if the model failed,
        :class:`~inferq.RequestCancelled` if it was cancelled, and
        :class:`~inferq.WaitTimeout` after ``timeout`` seconds (the request goes on).
        """
        with self.sync_client() as client:
            return client.wait(self, timeout)

    def cancel(self) -> None:
        """Cancel the request if it has not ended (a no-op if it was already cancelled):
        running work stops, and the worker goes on to the next request."""
        with self.sync_client() as client:
            client.cancel(self)

    async def aresult(self, timeout: float | None = None) -> dict[str, Any]:
        """:meth:`result` as a coroutine."""
        async with self.async_client() as client:
            return await client.wait(self, timeout)

    async def acancel(self) -> None:
        """:meth:`cancel` as a coroutine."""
        async with self.async_client() as client:
            await client.cancel(self)

    @contextlib.contextmanager
    def sync_client(self) -> Iterator[Client]:
        """The bound client if it is sync, else a temporary one with the same settings."""
        from inferq.sdk.client import Client

        if isinstance(self._client, Client):
            yield self._client
            return
        with Client(**_settings_of(self._client)) as client:
            yield client

    @contextlib.asynccontextmanager
    async def async_client(self) -> AsyncIterator[AsyncClient]:
        """The bound client if it is async, else a temporary one with the same settings."""
        from inferq.sdk.async_client import AsyncClient

        if isinstance(self._client, AsyncClient):
            yield self._client
            return
        async with AsyncClient(**_settings_of(self._client)) as client:
            yield client

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InferenceFuture):
            return NotImplemented
        return (self.response_id, self.poll_url) == (other.response_id, other.poll_url)

    def __hash__(self) -> int:
        return hash((self.response_id, self.poll_url))

    def __repr__(self) -> str:
        return f"InferenceFuture(response_id={self.response_id!r}, poll_url={self.poll_url!r})"


def _settings_of(client: BaseClient | None) -> dict[str, Any]:
    if client is None:
        return {}
    return {"token": client.token, "base_url": client.base_url}
