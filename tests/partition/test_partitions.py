"""Partitions, caused for real in network namespaces (short form; ``python -m bench partitions``
is the long one): Redis, two gateways and three workers on a switch, a steady load of unique
requests, and a fault: a member's link cut, latency and loss between workers and Redis, a
worker whose clock is minutes off. After each, every accepted request completes once, with its
own output: nothing lost, nothing doubled. (Whether the cut worker was mid-request when cut,
so that its request ran again elsewhere, is reported, not asserted: it is up to timing.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.partition.load import Load, cluster_in, report
from tests.partition.rig import netns_available

pytestmark = pytest.mark.skipif(netns_available() is not None, reason=netns_available() or "")


def test_a_worker_cut_off_mid_request_is_replaced_and_its_late_result_discarded(tmp_path: Path) -> None:
    with cluster_in(tmp_path) as cluster:
        with Load(cluster) as load:
            load.until(30)
            worker = cluster.worker_running()
            worker.cut()
            load.for_seconds(cluster.lease_s * 2 + 1)
            worker.heal()
            load.until(load.count + 30)
        outcome = report(cluster, load)
    assert (outcome.lost, outcome.doubled) == (0, 0), outcome


def test_a_gateway_cut_off_mid_submit_runs_each_request_once(tmp_path: Path) -> None:
    with cluster_in(tmp_path) as cluster:
        with Load(cluster) as load:
            load.until(30)
            cluster.gateways[0].cut()
            load.for_seconds(3)
            cluster.gateways[0].heal()
            load.until(load.count + 30)
        outcome = report(cluster, load)
    assert (outcome.lost, outcome.doubled) == (0, 0), outcome
    assert load.retried >= 1, "some submit was cut off and sent again through the other gateway"


def test_latency_and_loss_between_workers_and_redis_slow_the_work_but_lose_nothing(tmp_path: Path) -> None:
    with cluster_in(tmp_path) as cluster:
        with Load(cluster) as load:
            load.until(20)
            cluster.degrade(200, 5)
            load.for_seconds(8)
            cluster.heal()
            load.until(load.count + 20)
        outcome = report(cluster, load)
    assert (outcome.lost, outcome.doubled) == (0, 0), outcome


def test_a_worker_whose_clock_is_minutes_behind_counts_as_alive_and_loses_its_lease_on_time(
    tmp_path: Path,
) -> None:
    with cluster_in(tmp_path, skewed=True) as cluster:
        with Load(cluster) as load:
            load.until(30)
            assert cluster.ready_workers() == len(cluster.workers), "liveness is judged by Redis's clock"
            skewed = cluster.worker_running()
            skewed.cut()
            load.for_seconds(cluster.lease_s * 2 + 1)
            skewed.heal()
            load.until(load.count + 30)
        outcome = report(cluster, load)
    assert (outcome.lost, outcome.doubled) == (0, 0), outcome
