"""JSON Schemas of the wire types, for the OpenAPI document's ``components``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, TypeAdapter, with_config
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic_core import CoreSchema

#: Put on every wire type: the docstring under each field becomes its description.
documented = with_config(ConfigDict(use_attribute_docstrings=True))
#: Put on the bodies the API takes instead: a field it does not know is refused (422).
closed = with_config(ConfigDict(use_attribute_docstrings=True, extra="forbid"))

REF_TEMPLATE = "#/components/schemas/{model}"


class _Schemas(GenerateJsonSchema):
    """Pydantic's schemas without a title on every field (the field's name says it)."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def components(types: Iterable[Any]) -> dict[str, Any]:
    """The schema of each type and of every type it refers to, by name; refs point into
    ``#/components/schemas``. Refer to one as ``ref(Type)``."""
    mode: JsonSchemaMode = "serialization"
    adapters = [(kind, mode, TypeAdapter(kind)) for kind in types]
    _, definitions = TypeAdapter.json_schemas(adapters, ref_template=REF_TEMPLATE, schema_generator=_Schemas)
    schemas: dict[str, Any] = definitions.get("$defs", {})
    return schemas


def ref(kind: type) -> dict[str, str]:
    """A reference to ``kind``'s schema among the components."""
    return {"$ref": REF_TEMPLATE.format(model=kind.__name__)}
