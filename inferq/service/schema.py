"""Input models derived from ``Service.infer``'s signature, so the gateway can validate."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

import pydantic

from inferq.errors import InvalidInput

if TYPE_CHECKING:
    from inferq.service.base import Service

M = TypeVar("M", bound=pydantic.BaseModel)


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
        fields[name] = (hints.get(name, Any), default)
    config = pydantic.ConfigDict(extra=extra, strict=False)  # type: ignore[typeddict-item]
    return pydantic.create_model(f"{service.__name__}Inputs", __config__=config, **fields)


def validate_inputs(model: type[M], inputs: dict[str, Any]) -> M:
    """The validated model, or :class:`InvalidInput` naming the first wrong field, with
    every problem listed."""
    try:
        return model.model_validate(inputs)
    except pydantic.ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        first = problems[0]
        raise InvalidInput(
            f"{first['field']}: {first['message']}", field=first["field"], problems=problems
        ) from None


def json_schema(service: type[Service]) -> dict[str, Any]:
    """The endpoint's input JSON schema, for ``/docs``."""
    return input_model(service).model_json_schema()
