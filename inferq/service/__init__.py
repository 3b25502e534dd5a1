"""The model author's API: a Service with ``setup`` and a typed ``infer``."""

from inferq.service.base import Example, Service
from inferq.service.progress import report_progress

__all__ = ["Example", "Service", "report_progress"]
