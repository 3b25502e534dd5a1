"""One test body for both clients: ``connect`` builds a Client or an AsyncClient behind
the same blocking interface, so each behaviour is written once and run twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from inferq import AsyncClient, Client, InferenceFuture, as_completed


class Api:
    """A client whose methods are called the same way whether they are plain or coroutines."""

    def __init__(self, client: Client | AsyncClient, runner: asyncio.Runner | None) -> None:
        self.client = client
        self.runner = runner

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)
        return lambda *args, **kwargs: self._run(method(*args, **kwargs))

    def _run(self, value: Any) -> Any:
        return value if self.runner is None else self.runner.run(value)

    def result(self, future: InferenceFuture, timeout: float | None = None) -> Any:
        """``future.result`` or ``future.aresult``, as this client's kind calls it."""
        return self._run(future.result(timeout) if self.runner is None else future.aresult(timeout))

    def cancel_future(self, future: InferenceFuture) -> None:
        if self.runner is None:
            future.cancel()
        else:
            self.runner.run(future.acancel())

    def as_completed(
        self, futures: Iterable[InferenceFuture], timeout: float | None = None
    ) -> list[InferenceFuture]:
        """``for`` or ``async for`` over :func:`inferq.as_completed`, collected in order."""
        if self.runner is None:
            return list(as_completed(futures, timeout))

        async def collect() -> list[InferenceFuture]:
            return [future async for future in as_completed(futures, timeout)]

        assert self.runner is not None
        return self.runner.run(collect())

    def close(self) -> None:
        if self.runner is None:
            self.client.close()  # type: ignore[union-attr]
        else:
            self.runner.run(self.client.aclose())  # type: ignore[union-attr]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token or base URL from the developer's shell leaks into a test."""
    for name in ("INFERQ_TOKEN", "OCTOAI_TOKEN", "INFERQ_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(kind: str) -> Iterator[Callable[..., Api]]:
    """Build clients of the parametrized kind (arguments as for Client); all closed at the end."""
    runner = asyncio.Runner() if kind == "async" else None
    apis: list[Api] = []

    def make(*args: Any, **kwargs: Any) -> Api:
        client = Client(*args, **kwargs) if runner is None else AsyncClient(*args, **kwargs)
        apis.append(Api(client, runner))
        return apis[-1]

    yield make
    for api in apis:
        api.close()
    if runner is not None:
        runner.close()
