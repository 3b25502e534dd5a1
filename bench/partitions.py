"""Partitions, the long form of ``tests/partition``: Redis, two gateways and three workers in
network namespaces under a steady load, one fault at a time, each held ``--fault-seconds``:
a worker cut off from everything, a gateway cut off, 200 ms of delay with 5 % loss between
the workers and Redis, and a worker whose clock runs 5 minutes behind, cut off. For each: requests accepted, lost, completed twice or with another's output
(doubled), run more than once (the at-least-once reruns a lost lease causes), submits sent
again through the other gateway, and the longest gap between two completions (the stall).
Needs root (network namespaces).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.partition.load import Cluster, Load, cluster_in, report
from tests.partition.rig import netns_available


def _cut_worker(cluster: Cluster, seconds: float, load: Load) -> None:
    worker = cluster.worker_running()
    worker.cut()
    load.for_seconds(seconds)
    worker.heal()


def _cut_gateway(cluster: Cluster, seconds: float, load: Load) -> None:
    cluster.gateways[0].cut()
    load.for_seconds(seconds)
    cluster.gateways[0].heal()


def _slow_workers(cluster: Cluster, seconds: float, load: Load) -> None:
    cluster.degrade(200, 5)
    load.for_seconds(seconds)
    cluster.heal()


#: Each fault, and whether its cluster's first worker runs with its clock behind.
FAULTS: dict[str, tuple[Callable[[Cluster, float, Load], None], bool]] = {
    "worker_cut": (_cut_worker, False),
    "gateway_cut": (_cut_gateway, False),
    "workers_200ms_5pct_loss": (_slow_workers, False),
    "skewed_worker_cut": (_cut_worker, True),
}


def run(fault_seconds: float) -> dict[str, Any]:
    why_not = netns_available()
    if why_not is not None:
        print(f"partitions skipped: {why_not}")
        return {"runs": {}, "rows": []}
    results: dict[str, dict[str, Any]] = {}
    for name, (fault, skewed) in FAULTS.items():
        with (
            tempfile.TemporaryDirectory() as directory,
            cluster_in(Path(directory), skewed=skewed) as cluster,
        ):
            with Load(cluster) as load:
                load.for_seconds(fault_seconds)
                fault(cluster, fault_seconds, load)
                load.for_seconds(fault_seconds)
            outcome = report(cluster, load)
            results[name] = {**dataclasses.asdict(outcome), "retried_submits": load.retried}
            print(name, results[name], flush=True)
    return {"runs": results, "rows": []}
