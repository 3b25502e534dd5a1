"""The model author's API: a Service with ``setup`` and a typed ``infer``."""

from inferq.service.base import Service

__all__ = ["Service"]
