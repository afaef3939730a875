"""At the edge: a server that is slow but loses nothing gets no breach, and its
latencies are measured as they were, past every timeout."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import ROOT, headless, locust_command, read_stats, small_dataset

# A breach is what the server did: under a lagging fan-out a user's own
# acknowledgement does overtake an older message of the other side (a reorder).
_SLOW_BUT_CORRECT = {"reorder"}


@dataclass
class Outcome:
    returncode: int
    stderr: str
    stats: dict[str, dict[str, str]]
    summary: dict[str, dict[str, str]]
    breaches: list[dict[str, str]]
    messages_before: int
    messages_after: int

    def figure(self, metric: str, column: str) -> float:
        return float(self.summary[metric][column])

    @property
    def acknowledged(self) -> int:
        """Sends the server acknowledged, in time or late."""
        return int(
            self.figure("send_ack", "count")
            - self.figure("send_ack", "failures")
            + self.figure("send_ack", "late")
        )


def _messages(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM messages").fetchone()
    return int(count)


def _run(root: Path, server_args: tuple[str, ...], *locust_args: str) -> Outcome:
    db, users = small_dataset(root)
    before = _messages(db)
    with LaunchedServer(db, *server_args) as server:
        done = subprocess.run(
            locust_command(
                "--host",
                server.url,
                "--users-file",
                str(users),
                "--csv",
                str(root / "run"),
                "--only-summary",
                # Nobody closes a connection on purpose: a send cut short by our own
                # close may be stored unacknowledged, and the database check is exact.
                "--churn-share",
                "0",
                *locust_args,
            ),
            capture_output=True,
            text=True,
            check=False,
            timeout=400,
            cwd=ROOT,
        )
    with (root / "run_chat_summary.csv").open(newline="") as handle:
        summary = {row["metric"]: row for row in csv.DictReader(handle)}
    with (root / "run_invariants.csv").open(newline="") as handle:
        breaches = list(csv.DictReader(handle))
    return Outcome(
        done.returncode,
        done.stderr,
        read_stats(root / "run"),
        summary,
        breaches,
        before,
        _messages(db),
    )


def _assert_nothing_lost(run: Outcome) -> None:
    assert run.returncode in (0, 1), run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    kinds = {row["kind"] for row in run.breaches}
    assert kinds <= _SLOW_BUT_CORRECT, run.breaches[:5]
    # Every message the server acknowledged is in its database, and nothing else.
    assert run.messages_after - run.messages_before == run.acknowledged


@pytest.mark.slow
def test_a_fanout_lag_past_every_timeout_is_late_not_lost(tmp_path: Path) -> None:
    run = _run(
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
    _assert_nothing_lost(run)
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
def test_frames_all_late_are_timed_at_their_true_latency(tmp_path: Path) -> None:
    run = _run(
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
    _assert_nothing_lost(run)
    assert run.breaches == [], "in order, only late: nothing broken"
    for metric in ("send_ack", "delivery"):
        figures = run.summary[metric]
        assert int(figures["late"]) > 50 and figures["unanswered"] == "0", figures
        # The true latency, not the 2 s timeout: within 2 % of the server's 3 s.
        assert 3000 <= run.figure(metric, "p50_ms") <= 3000 * 1.02, figures


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_capped_server_at_twice_its_capacity_is_slow_not_broken(tmp_path: Path) -> None:
    capacity = 10  # messages per second; 20 brisk people offer about 2.5 times that
    run = _run(
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
    _assert_nothing_lost(run)
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


@pytest.mark.slow
def test_a_saturated_generator_is_flagged_and_breaks_nothing(tmp_path: Path) -> None:
    run = _run(
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
    _assert_nothing_lost(run)
    assert run.breaches == []
    assert "the generator was saturated in" in run.stderr
