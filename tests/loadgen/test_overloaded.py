"""A server capped at a capacity and driven past it: slow, never wrong, and its
tail measured past every timeout."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.loadgen.edge import assert_nothing_lost, run_against
from tests.loadgen.support import headless


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_capped_server_at_twice_its_capacity_is_slow_not_broken(tmp_path: Path) -> None:
    capacity = 10  # messages per second; 20 brisk people offer about 2.5 times that
    run = run_against(
        tmp_path,
        ("--test-capacity", str(capacity)),
        *headless(20, "60s"),
        "--think-min",
        "0.2",
        "--think-max",
        "0.6",
        "--answer-timeout",
        "5",
        # The backlog of a minute at twice the capacity takes a minute to drain.
        "--quiesce-seconds",
        "150",
    )
    assert_nothing_lost(run)
    offered = run.figure("send_ack", "count") / 60
    assert offered >= 2 * capacity, f"not overloaded: {offered:.1f} messages/s"
    # Failures by kind: every one a timeout; and the tail past the timeout is measured.
    failures = {row["Error"] for row in _locust_failures(tmp_path / "run")}
    assert failures and all("timeout" in error for error in failures), failures
    assert run.figure("send_ack", "p99_ms") > 4 * 5000
    assert run.summary["send_ack"]["unanswered"] == "0"
    assert "0 chats unsettled" in run.stderr


def _locust_failures(prefix: Path) -> list[dict[str, str]]:
    with Path(f"{prefix}_failures.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))
