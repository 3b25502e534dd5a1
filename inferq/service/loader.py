"""The endpoint table: endpoint name → Service class, imported only when needed."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from inferq.service.base import Service

#: Built-in endpoints, as import strings so that naming one does not import the others.
BUILTIN_ENDPOINTS = {
    "echo": "inferq.models.echo:Echo",
    "embeddings": "inferq.models.embeddings:Embeddings",
    "whisper": "inferq.models.whisper:Whisper",
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
RESERVED_NAMES = frozenset({"v1", "healthz", "metrics", "docs", "openapi.json", "ui"})


class EndpointSpecError(ValueError):
    """An ``--endpoints`` entry that names no Service."""


def parse_endpoints(spec: str) -> dict[str, str]:
    """Parse ``echo,whisper,mine=path/to/file.py:Class`` into name → import string; a
    built-in serves under another name too (``fast=whisper,accurate=whisper``)."""
    table: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name, _, target = entry.partition("=")
        target = BUILTIN_ENDPOINTS.get(target or name, target)
        if not _NAME.match(name) or name in RESERVED_NAMES:
            raise EndpointSpecError(f"endpoint name {name!r} is not allowed")
        if ":" not in target:
            known = ", ".join(sorted(BUILTIN_ENDPOINTS))
            raise EndpointSpecError(
                f"endpoint {name!r} is not built in ({known}); give it as NAME=module:Class"
            )
        table[name] = target
    if not table:
        raise EndpointSpecError("no endpoints given")
    return table


def load_service(target: str) -> type[Service]:
    """Import ``module:Class`` or ``path/to/file.py:Class`` and return the class; an
    :class:`EndpointSpecError` saying why when it cannot be imported or is no Service."""
    module_ref, _, attr = target.rpartition(":")
    try:
        module = _import(module_ref)
    except EndpointSpecError:
        raise
    except Exception as exc:
        raise EndpointSpecError(f"cannot import {module_ref}: {type(exc).__name__}: {exc}") from exc
    service = getattr(module, attr, None)
    if not (isinstance(service, type) and issubclass(service, Service)):
        raise EndpointSpecError(f"{target} is not a Service subclass")
    return service


def _import(module_ref: str) -> ModuleType:
    if not module_ref.endswith(".py"):
        return importlib.import_module(module_ref)
    path = Path(module_ref).resolve()
    spec = importlib.util.spec_from_file_location(f"inferq_service_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise EndpointSpecError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
