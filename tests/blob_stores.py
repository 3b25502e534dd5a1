"""The blob stores the file tests run on: a directory, and a bucket on a real S3-speaking
server (moto's standalone server, standing in for S3, which is outside our control).

:class:`BlobView` lists what a store holds, from outside inferq, so tests can say "no
byte of this file is left" by looking, not by asking the server.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port, wait_until

BUCKET = "inferq-test"


@dataclass
class S3Server:
    """``moto_server`` on a free port, with a bucket; ``env`` is what clients need to reach it."""

    directory: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
        }

    def start(self) -> S3Server:
        self.port = free_port()
        moto = Path(sys.executable).with_name("moto_server")
        with (self.directory / "moto.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(moto), "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(lambda: _answers(self.endpoint), 60, "the S3 server up")
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def client(self):  # type: ignore[no-untyped-def]  # boto3's client is untyped
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, **_credentials(self.env))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.TransportError:
        return False


def _credentials(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_REGION"],
    }


@dataclass(frozen=True)
class BlobView:
    """One blob store as a test sees it: the ``--blob-store`` URL, and what it holds."""

    url: str
    directory: Path | None = None
    s3: S3Server | None = None

    def contents(self) -> list[bytes]:
        """The bytes of every object stored, partial writes included."""
        if self.directory is not None:
            return [blob for path in self.directory.rglob("*") if (blob := _read_file(path)) is not None]
        assert self.s3 is not None
        client, prefix = self.s3.client(), self.url.removeprefix(f"s3://{BUCKET}/")
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        stored = [blob for o in listed if (blob := _read(client, o["Key"])) is not None]
        # an upload cut off midway must not linger as an unfinished multipart upload either
        unfinished = client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])
        return stored + [b"<unfinished multipart upload>"] * len(unfinished)

    def holds(self, data: bytes) -> bool:
        """Whether any stored object holds ``data`` (or the start of it)."""
        probe = data[:4096]
        return any(probe in blob for blob in self.contents())


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except FileNotFoundError:
        return None


def _read(client: Any, key: str) -> bytes | None:
    """The object's bytes; None if it was deleted since it was listed."""
    try:
        body: bytes = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return body


def directory_store(root: Path) -> BlobView:
    root.mkdir(parents=True, exist_ok=True)
    return BlobView(root.as_uri(), directory=root)


def bucket_store(s3: S3Server) -> BlobView:
    return BlobView(f"s3://{BUCKET}/t{secrets.token_hex(4)}", s3=s3)


def export(s3: S3Server) -> None:
    """Point every process this test session starts at ``s3`` (servers inherit the variables)."""
    os.environ.update(s3.env)
