"""A worker process's memory limit: a runaway model gets ``MemoryError`` instead of taking the machine.

The limit is ``RLIMIT_DATA``, which since Linux 4.7 counts every private writable
mapping (heap, ``mmap``-ed buffers, thread stacks) but not address space that is only
reserved, so allocators and runtimes that reserve large ranges up front still start.
It is set before the Service is imported, so loading the model counts too.
"""

from __future__ import annotations

import resource

from inferq.domain.sizes import format_size


def limit_memory(max_bytes: int) -> None:
    """Cap this process's memory at ``max_bytes``, soft and hard: the model cannot lift it."""
    resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))


def out_of_memory() -> str:
    """Why an allocation failed, naming the limit when this process has one."""
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    if soft == resource.RLIM_INFINITY:
        return "out of memory"
    return f"out of memory: the worker's limit is {format_size(soft)} (--max-memory)"
