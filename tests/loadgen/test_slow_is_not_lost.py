"""At the edge: a server that is slow but loses nothing gets no breach, and its
latencies are measured as they were, past every timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.loadgen.edge import assert_nothing_lost, run_against
from tests.loadgen.support import headless


@pytest.mark.slow
@pytest.mark.serial  # a p50 within 2 % of the lag: no other load beside it
def test_a_fanout_lag_past_every_timeout_is_late_not_lost(tmp_path: Path) -> None:
    run = run_against(
        tmp_path,
        ("--test-fanout-lag-ms", "3000"),
        *headless(20, "20s"),
        "--think-min",
        "0.2",
        "--think-max",
        "0.6",
        "--answer-timeout",
        "1.5",
    )
    assert_nothing_lost(run)
    # Every delivery timed out, and every one came after all: late, at ~3 s.
    delivery = run.summary["delivery"]
    assert int(delivery["failures"]) > 50
    assert delivery["late"] == delivery["failures"] and delivery["unanswered"] == "0"
    assert 3000 <= run.figure("delivery", "p50_ms") <= 3000 * 1.02
    assert run.summary["send_ack"]["unanswered"] == "0"
    # Locust's own table counted each timeout when it happened.
    assert int(run.stats["delivery"]["Failure Count"]) == int(delivery["failures"])
    assert "0 chats unsettled" in run.stderr


@pytest.mark.slow
@pytest.mark.serial  # a p50 within 2 % of the lag: no other load beside it
def test_frames_all_late_are_timed_at_their_true_latency(tmp_path: Path) -> None:
    run = run_against(
        tmp_path,
        ("--test-delay-ms", "3000"),
        *headless(20, "20s"),
        "--think-min",
        "0.2",
        "--think-max",
        "0.6",
        "--answer-timeout",
        "2",
        "--connect-timeout",
        "6",
    )
    assert_nothing_lost(run)
    assert run.breaches == [], "in order, only late: nothing broken"
    for metric in ("send_ack", "delivery"):
        figures = run.summary[metric]
        assert int(figures["late"]) > 50 and figures["unanswered"] == "0", figures
        # The true latency, not the 2 s timeout: within 2 % of the server's 3 s.
        assert 3000 <= run.figure(metric, "p50_ms") <= 3000 * 1.02, figures


@pytest.mark.slow
def test_a_saturated_generator_is_flagged_and_breaks_nothing(tmp_path: Path) -> None:
    run = run_against(
        tmp_path,
        (),
        *headless(20, "25s"),
        "--think-min",
        "0",
        "--think-max",
        "0.002",
        "--chat-interval",
        "1",
    )
    assert_nothing_lost(run)
    assert run.breaches == []
    assert "the generator was saturated in" in run.stderr
