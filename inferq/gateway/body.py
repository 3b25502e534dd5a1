"""Reading a request body as a JSON object, with every refusal named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from inferq.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType

if TYPE_CHECKING:
    from starlette.requests import Request

#: The deepest nesting a body may have: orjson's own limit, enforced as it parses (so at no
#: extra cost), and deep enough for any real input. Outputs nest at most 254 levels
#: (orjson's limit when the worker serialises them), so a request that echoes an input
#: deeper than that fails with the serialiser's error rather than anything worse.
MAX_JSON_DEPTH = 1024


async def read_json_object(request: Request, max_bytes: int) -> tuple[bytes, dict[str, Any]]:
    """The raw body and its parsed JSON object; 415, 413, 400 or 422 otherwise."""
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"body must be JSON (Content-Type: application/json), got {media_type!r}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"body is {declared} bytes; the limit is {max_bytes}", limit=max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"body is over the limit of {max_bytes} bytes", limit=max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            message = f"body nests deeper than {MAX_JSON_DEPTH} levels"
            raise BadRequest(message, limit=MAX_JSON_DEPTH) from None
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidInput(f"body must be a JSON object of inputs, got {type(parsed).__name__}", field="body")
    return raw, parsed
