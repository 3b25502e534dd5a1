"""File tests run on both backends and both blob stores: SQLite with its default directory
and with a bucket, Redis with a directory and with a bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.blob_stores import BlobView, S3Server, bucket_store, directory_store, export
from tests.conftest import chosen
from tests.sdk.conftest import clean_env, connect, kind
from tests.servers import Server
from tests.shared_servers import SharedServers
from tests.store import sqlite_path

#: The SDK tests' fixtures, so the SDK's file calls run with both clients here too.
__all__ = ["clean_env", "connect", "kind"]

STORES = ["sqlite+directory", "sqlite+s3", "redis+directory", "redis+s3"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    s3 = S3Server(tmp_path_factory.mktemp("s3")).start()
    export(s3)
    yield s3
    s3.stop()


@dataclass(frozen=True)
class FileServer:
    """A shared server with a blob store, seen as a tenant of the test's own."""

    server: Server
    store: BlobView


class Stores:
    """One blob store per (combination, flags), made once a session so servers can be shared."""

    def __init__(self, root: Path, s3: S3Server) -> None:
        self.root, self.s3 = root, s3
        self.views: dict[tuple[str, tuple[str, ...]], BlobView | None] = {}

    def view(self, combination: str, flags: tuple[str, ...]) -> BlobView | None:
        """The store for ``combination``; None for SQLite's default (beside its file)."""
        key = (combination, flags)
        if key not in self.views:
            kind = combination.split("+")[1]
            if combination == "sqlite+directory":
                self.views[key] = None
            elif kind == "directory":
                self.views[key] = directory_store(self.root / f"blobs-{len(self.views)}")
            else:
                self.views[key] = bucket_store(self.s3)
        return self.views[key]


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Stores:
    return Stores(tmp_path_factory.mktemp("blobs"), s3_server)


@pytest.fixture(params=STORES)
def combination(request: pytest.FixtureRequest) -> str:
    chosen(str(request.param).split("+")[0])
    return str(request.param)


@pytest.fixture
def files_on(shared_servers: SharedServers, stores: Stores, combination: str) -> Callable[..., FileServer]:
    """A shared server of this combination with some extra flags, as a new tenant."""

    def tenant(*flags: str) -> FileServer:
        kind = combination.split("+")[0]
        view = stores.view(combination, flags)
        store_flags = () if view is None else ("--blob-store", view.url)
        server = shared_servers.tenant(kind, (*store_flags, *flags))
        if view is None:
            path = sqlite_path(server.backend)
            view = directory_store(path.with_name(path.name + ".files"))
        return FileServer(server, view)

    return tenant


@pytest.fixture
def files(files_on: Callable[..., FileServer]) -> FileServer:
    """The shared server of this combination with default flags."""
    return files_on()
