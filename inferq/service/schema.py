"""Input models derived from ``Service.infer``'s signature, so the gateway can validate.

An input annotated with a file type of :mod:`inferq.types` (``Audio``, ``Image``, ``File``,
or one of them ``| None``) is a *file input*: on the wire it is a string (base64, a
``data:`` URI or ``inferq://files/<id>``, or a URL with ``--allow-url-inputs``) or a multipart part, and the model receives it as
a local :class:`~pathlib.Path` (:mod:`inferq.worker.file_inputs`).
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_type_hints

import pydantic
import pydantic_core

from inferq.domain.files import FILE_REF_PREFIX
from inferq.errors import InvalidInput
from inferq.types import FILE_TYPES

if TYPE_CHECKING:
    from inferq.service.base import Service

M = TypeVar("M", bound=pydantic.BaseModel)

#: What a file input is on the wire, in JSON (a multipart part is its other form).
FileValue = Annotated[
    str,
    pydantic.WithJsonSchema(
        {
            "type": "string",
            "description": f"base64 of the file, a data: URI, {FILE_REF_PREFIX}<id> of an uploaded "
            "file, or an http(s) URL where the server allows URL inputs; in multipart/form-data, "
            "the file itself",
            "x-inferq-file": True,
        }
    ),
]


def _file_type(hint: Any) -> tuple[bool, Any]:
    """Whether ``hint`` declares a file (``Audio``, ``Annotated[Audio, ...]``, ``Audio | None``),
    and the wire type that stands for it."""
    metadata: tuple[Any, ...] = ()
    if typing.get_origin(hint) is Annotated:
        hint, *extra = typing.get_args(hint)
        metadata = tuple(extra)
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        optional = len(members) < len(typing.get_args(hint))
        if len(members) == 1:
            hint = members[0]
    if not (isinstance(hint, type) and issubclass(hint, FILE_TYPES)):
        return False, None
    wire: Any = FileValue | None if optional else FileValue
    return True, Annotated[wire, *metadata] if metadata else wire


def file_inputs(service: type[Service]) -> frozenset[str]:
    """The names of ``infer``'s file inputs."""
    hints = get_type_hints(service.infer, include_extras=True)
    return frozenset(name for name, hint in hints.items() if _file_type(hint)[0])


def input_model(service: type[Service]) -> type[pydantic.BaseModel]:
    """A pydantic model of ``infer``'s keyword parameters.

    ``**kwargs`` in the signature means extra fields are allowed; without it an unknown
    field is an error, so a typo does not pass silently.
    """
    signature = inspect.signature(service.infer)
    hints = get_type_hints(service.infer, include_extras=True)
    fields: dict[str, Any] = {}
    extra = "forbid"
    for name, param in list(signature.parameters.items())[1:]:
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            extra = "allow"
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        hint = hints.get(name, Any)
        is_file, wire = _file_type(hint)
        fields[name] = (wire if is_file else _numbers_only(hint), default)
    config = pydantic.ConfigDict(extra=extra, strict=False)  # type: ignore[typeddict-item]
    return pydantic.create_model(f"{service.__name__}Inputs", __config__=config, **fields)


def _refuse_booleans(value: Any) -> Any:
    if isinstance(value, bool):
        raise pydantic_core.PydanticCustomError("number_type", "Input should be a number, not true or false")
    return value


def _numbers_only(hint: Any) -> Any:
    """``hint``, refusing ``true``/``false`` where it takes a number (int or float) and not a
    bool: pydantic's lax mode reads them as 1 and 0, which the schema does not say."""
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint
    members = typing.get_args(base) if typing.get_origin(base) in (typing.Union, types.UnionType) else (base,)
    if bool in members or not any(member in (int, float) for member in members):
        return hint
    return Annotated[hint, pydantic.BeforeValidator(_refuse_booleans)]


def validate_inputs(model: type[M], inputs: dict[str, Any]) -> M:
    """The validated model, or :class:`InvalidInput` naming the first wrong field, with
    every problem listed."""
    try:
        return model.model_validate(inputs)
    except pydantic.ValidationError as exc:
        raise invalid_input(exc) from None


def invalid_input(exc: pydantic.ValidationError) -> InvalidInput:
    """The 422 of a body pydantic refused: the first wrong field named, every problem listed."""
    problems = [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    first = problems[0]
    return InvalidInput(f"{first['field']}: {first['message']}", field=first["field"], problems=problems)


def json_schema(service: type[Service]) -> dict[str, Any]:
    """The endpoint's input JSON schema, for ``/docs``."""
    return input_model(service).model_json_schema()
