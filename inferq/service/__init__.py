"""The model author's API: a Service with ``setup`` and a typed ``infer``."""

from inferq.service.base import Service
from inferq.service.progress import report_progress

__all__ = ["Service", "report_progress"]
