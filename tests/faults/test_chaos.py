"""The chaos run, short form: 300 requests while workers and the whole tree die by SIGKILL.

The full form, 10,000 requests, is ``python -m bench.chaos`` (see :mod:`bench.chaos` for
what is counted). The seed is random, and printed with any failure so it can be replayed
with ``INFERQ_CHAOS_SEED``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

from bench import chaos
from tests.conftest import Server


def test_no_request_is_lost_duplicated_or_wrong_while_processes_die(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    runs = tmp_path / "runs.log"
    server = serve(*chaos.SERVE_ARGS, endpoints=chaos.ENDPOINT, env={"COUNTS_LOG": str(runs)})
    seed = int(os.environ.get("INFERQ_CHAOS_SEED", random.randrange(2**32)))
    report = chaos.run(server, runs, requests=300, kills=5, seed=seed, tree_share=0.4)
    assert report.worker_kills + report.tree_kills == 5, report
    assert (report.lost, report.wrong_outputs, report.duplicates) == (0, 0, 0), f"seed {seed}: {report}"
    assert report.reruns <= report.reruns_allowed, f"seed {seed}: {report}"
