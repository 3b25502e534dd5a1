"""Request bodies, decoded behind one seam: the body's media type picks a decoder among
those the route takes, and every refusal is named (415, 413, 400, 422).

A decoder turns a body into a :class:`Body`: the JSON object a route reads, and the bytes
a submit stores as the request's inputs. JSON is every route's; submit doors add
:class:`~inferq.gateway.multipart_inputs.MultipartDecoder` (file uploads).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from inferq.errors import APIError, BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from inferq.protocol.limits import MAX_INPUT_KEYS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request

#: The deepest nesting a body may have: orjson's own limit, enforced as it parses (so at no
#: extra cost), and deep enough for any real input. Outputs nest at most 254 levels
#: (orjson's limit when the worker serialises them), so a request that echoes an input
#: deeper than that fails with the serialiser's error rather than anything worse.
MAX_JSON_DEPTH = 1024

#: A JSON body larger than this is first parsed in a process of its own: millions of keys
#: take orjson seconds, holding the GIL, so neither the event loop nor a thread beside it
#: would serve other clients meanwhile. Only a body that passes is parsed here again (a
#: large legitimate body is a long string, which parses in milliseconds).
CHECK_APART_BYTES = 1 << 20

#: What a 413 for a body says to do about it.
RAISE_BODY_LIMIT = (
    " (the server's --max-body; send a large file as a multipart part or through POST /v1/files, "
    "up to --max-upload)"
)


@dataclass(frozen=True, slots=True)
class Body:
    """A decoded body: its JSON object, and that object as the JSON bytes to store."""

    raw: bytes
    value: dict[str, Any]
    #: Files the decoding uploaded (multipart), to delete if the submit does not use them.
    files: tuple[str, ...] = ()
    #: What an idempotent replay must match, when not ``value`` itself: uploads get new ids
    #: each time, so they are compared by their contents.
    compared: dict[str, Any] | None = None
    #: Files that came with another request that this body may use all the same, never
    #: deleting them: a retry's, its original request's.
    borrowed: tuple[str, ...] = ()

    @property
    def digest(self) -> str | None:
        """The hash a replay under the same key must match; None: that of ``raw``."""
        if self.compared is None:
            return None
        return hashlib.sha256(orjson.dumps(self.compared, option=orjson.OPT_SORT_KEYS)).hexdigest()


class BodyDecoder(Protocol):
    #: What the decoder takes, for the 415 that names what a route accepts.
    description: str

    def accepts(self, media_type: str) -> bool:
        """Whether this decoder reads bodies of ``media_type`` (lowercase, no parameters)."""
        ...

    async def decode(self, request: Request, max_bytes: int) -> Body:
        """The body as a :class:`Body`; raises the API error that names what is wrong."""
        ...


class JSONDecoder:
    """``application/json`` (and ``+json``) bodies holding a JSON object, stored as sent."""

    description = "JSON (Content-Type: application/json)"

    def accepts(self, media_type: str) -> bool:
        return media_type == "application/json" or media_type.endswith("+json")

    async def decode(self, request: Request, max_bytes: int) -> Body:
        raw = await read_bytes(request, max_bytes)
        if len(raw) > CHECK_APART_BYTES:
            await check_apart(raw)
        return Body(raw, parse_object(raw))


#: The decoders of routes that take JSON only.
JSON: tuple[BodyDecoder, ...] = (JSONDecoder(),)


async def decode_body(request: Request, max_bytes: int, decoders: Sequence[BodyDecoder] = JSON) -> Body:
    """The body, decoded by the first of ``decoders`` that takes its media type (JSON when
    none is given); 415 naming what the route takes otherwise."""
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    for decoder in decoders:
        if decoder.accepts(media_type):
            return await decoder.decode(request, max_bytes)
    takes = " or ".join(decoder.description for decoder in decoders)
    raise UnsupportedMediaType(f"body must be {takes}, got {media_type!r}")


async def read_bytes(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to pass ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(
            f"body is {declared} bytes; the limit is {max_bytes}{RAISE_BODY_LIMIT}", limit=max_bytes
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(
                f"body is over the limit of {max_bytes} bytes{RAISE_BODY_LIMIT}", limit=max_bytes
            )
        chunks.append(chunk)
    return b"".join(chunks)


_REFUSALS: dict[str, type[APIError]] = {BadRequest.type: BadRequest, InvalidInput.type: InvalidInput}


@functools.cache
def _checker() -> ProcessPoolExecutor:
    """The gateway process's checking process, started with the first large body."""
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


async def check_apart(raw: bytes) -> None:
    """Raise what :func:`parse_object` would for ``raw``, judged in the checking process."""
    refusal = await asyncio.get_running_loop().run_in_executor(_checker(), _refusal, raw)
    if refusal is not None:
        kind, message, details = refusal
        raise _REFUSALS[kind](message, **details)


def _refusal(raw: bytes) -> tuple[str, str, dict[str, Any]] | None:
    """In the checking process: why ``raw`` is no body, or None."""
    try:
        parse_object(raw)
    except (BadRequest, InvalidInput) as exc:
        return exc.type, exc.message, exc.details
    return None


def parse_object(raw: bytes) -> dict[str, Any]:
    """``raw`` parsed as a JSON object; 400 for what is not JSON, 422 for JSON that is not an object."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            message = f"body nests deeper than {MAX_JSON_DEPTH} levels"
            raise BadRequest(message, limit=MAX_JSON_DEPTH) from None
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidInput(f"body must be a JSON object of inputs, got {type(parsed).__name__}", field="body")
    if len(parsed) > MAX_INPUT_KEYS:
        raise InvalidInput(
            f"body holds {len(parsed)} inputs; at most {MAX_INPUT_KEYS} per request",
            field="body",
            limit=MAX_INPUT_KEYS,
        )
    return parsed
