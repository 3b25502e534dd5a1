"""Submit bodies as ``multipart/form-data``: one part per file input (by input name), the
other inputs as form fields or as one ``json`` part of a JSON object.

A file part streams into the blob store as one of the caller's files, and the stored
input refers to it (``inferq://files/<id>``); without a blob store it travels inline as
base64, within the body limit. Whatever the decoder stored is deleted again if the body
turns out to be bad.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from typing import TYPE_CHECKING, Any

import orjson
import pydantic

from inferq.domain.files import REQUEST, file_ref
from inferq.errors import BadRequest, InvalidInput, PayloadTooLarge
from inferq.gateway.bodies import Body, parse_object
from inferq.gateway.multipart import MultipartReader

if TYPE_CHECKING:
    from starlette.requests import Request

    from inferq.gateway.multipart import Part
    from inferq.gateway.state import Endpoint
    from inferq.gateway.uploads import Uploads

#: The part that carries the non-file inputs as one JSON object.
JSON_PART = "json"
BATCH_SHAPE = 'a batch is a json part {"inputs": [...]} and file parts named inputs[i].NAME'


#: A batch's file part: ``inputs[i].NAME``, the file input NAME of its input ``i``.
_ITEM_FILE = re.compile(r"inputs\[(\d{1,4})\]\.(\w+)")


class MultipartDecoder:
    """Multipart bodies of one caller's submit to an endpoint: one input (``/predict``), or
    with ``batch`` a batch (``/batch``: a ``json`` part ``{"inputs": [...]}`` and file parts
    named ``inputs[i].NAME``)."""

    description = "multipart/form-data"

    def __init__(self, uploads: Uploads, tenant: str, endpoint: Endpoint, batch: bool = False) -> None:
        self.uploads = uploads
        self.tenant = tenant
        self.model = endpoint.inputs
        self.file_inputs = endpoint.file_inputs
        self.batch = batch

    def accepts(self, media_type: str) -> bool:
        return media_type == "multipart/form-data"

    async def decode(self, request: Request, max_bytes: int) -> Body:
        values: dict[str, Any] = {}
        #: What idempotency compares: a file by its contents, not the id this upload got.
        compared: dict[str, Any] = {}
        files: dict[tuple[int | None, str], tuple[str, str]] = {}
        stored: list[str] = []
        fields: set[str] = set()
        budget = max_bytes
        try:
            async for part in MultipartReader(request).parts():
                slot = self._slot(part.name)
                if part.name in values or slot in files:
                    raise InvalidInput(f"{part.name}: given twice", field=part.name)
                if slot is not None:
                    value, digest, size = await file_input(self.uploads, self.tenant, part, budget, stored)
                    files[slot] = (value, digest)
                    budget -= size
                elif part.filename is not None:
                    raise InvalidInput(self._not_a_file(part.name), field=part.name)
                else:
                    raw = await part.read(budget)
                    budget -= len(raw)
                    if part.name == JSON_PART:
                        for name, value in parse_object(raw).items():
                            values.setdefault(name, value)
                            compared.setdefault(name, copy.deepcopy(value))
                    elif self.batch:
                        raise InvalidInput(BATCH_SHAPE, field=part.name)
                    else:
                        values[part.name] = compared[part.name] = form_text(part.name, raw)
                        fields.add(part.name)
            for (index, name), (value, digest) in files.items():
                _place(values, index, name, value)
                _place(compared, index, name, digest)
        except BaseException:
            await self.uploads.discard(self.tenant, stored)
            raise
        if not self.batch:
            values.update(self._typed(values, fields))
        return Body(orjson.dumps(values), values, tuple(stored), compared)

    def _slot(self, name: str) -> tuple[int | None, str] | None:
        """Where a file part named ``name`` goes: (its input's index in a batch, the file
        input), or None when ``name`` names no file input."""
        if not self.batch:
            return (None, name) if name in self.file_inputs else None
        match = _ITEM_FILE.fullmatch(name)
        if match is None or match[2] not in self.file_inputs:
            return None
        return int(match[1]), match[2]

    def _typed(self, values: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        """The form fields (text) as the types the endpoint declares for them (``"0.5"`` as 0.5),
        so the model gets what a JSON body would have given it; {} when the inputs are
        invalid (the submit then says which)."""
        declared = fields & self.model.model_fields.keys()
        try:
            typed = self.model.model_validate(values)
        except pydantic.ValidationError:
            return {}
        return typed.model_dump(mode="json", include=declared)

    def _not_a_file(self, name: str) -> str:
        takes = ", ".join(sorted(self.file_inputs)) or "none"
        message = f"{name}: a file was sent, but {name!r} is not a file input of this endpoint (its file inputs: {takes})"
        return f"{message}; {BATCH_SHAPE}" if self.batch else message


def _place(values: dict[str, Any], index: int | None, name: str, value: str) -> None:
    """Put a file input's value in the body: at ``name``, or in the batch's input ``index``."""
    if index is None:
        values[name] = value
        return
    items = values.get("inputs")
    if not isinstance(items, list) or index >= len(items) or not isinstance(items[index], dict):
        where = f"inputs[{index}].{name}"
        raise InvalidInput(f"{where}: the json part has no inputs[{index}] object for this file", field=where)
    items[index][name] = value


async def file_input(
    uploads: Uploads, tenant: str, part: Part, budget: int, stored: list[str]
) -> tuple[str, str, int]:
    """A file part as an input's value (``inferq://files/<id>`` of the stored upload, its id
    added to ``stored``; inline base64 without a blob store), what idempotency compares of
    it (its digest), and what it cost of the body budget."""
    if uploads.blobs is None:
        try:
            data = await part.read(budget)
        except PayloadTooLarge:
            uploads.require_store(f"a file ({part.name}) over the {budget} bytes left of the body limit")
            raise
        encoded = base64.b64encode(data).decode("ascii")
        return encoded, "sha256:" + hashlib.sha256(data).hexdigest(), len(encoded)
    record = await uploads.store(tenant, part.chunks(), part.content_type, part.filename, REQUEST)
    stored.append(record.id)
    return file_ref(record.id), "sha256:" + record.sha256, 0


def form_text(name: str, raw: bytes) -> str:
    """A form field's value; 400 naming it when it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"form field {name!r} is not UTF-8 text") from None
