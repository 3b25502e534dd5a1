"""The model author's API: a Service with ``setup`` and a typed ``infer``, and what a
running ``infer`` may call: progress, checkpoints, resuming, and cancellation."""

from inferq.service.base import Example, Service
from inferq.service.running import Cancelled, Resume, cancelled, checkpoint, report_progress, resumed

__all__ = [
    "Cancelled",
    "Example",
    "Resume",
    "Service",
    "cancelled",
    "checkpoint",
    "report_progress",
    "resumed",
]
