"""Runs against a reference server that is slow on purpose, and what they left."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from chatload.provision import ProvisionPlan
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import ROOT, SMALL_PLAN, locust_command, read_stats, small_dataset

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
    with closing(sqlite3.connect(db)) as connection:  # closed: Python 3.13 warns otherwise
        (count,) = connection.execute("SELECT COUNT(*) FROM messages").fetchone()
    return int(count)


def run_against(
    root: Path,
    server_args: tuple[str, ...],
    *locust_args: str,
    scrape: bool = False,
    plan: ProvisionPlan = SMALL_PLAN,
) -> Outcome:
    """A run against a reference server started with ``server_args`` on the dataset
    of ``plan``; with ``scrape``, its /metrics read by --server-metrics."""
    db, users = small_dataset(root, plan)
    before = _messages(db)
    # No fsync per commit: the runs measure lags the server adds on purpose, not
    # the disk's (its database still holds exactly what was acknowledged).
    with LaunchedServer(db, "--synchronous", "normal", *server_args) as server:
        metrics = ("--server-metrics", f"http://127.0.0.1:{server.port}/metrics")
        done = subprocess.run(
            locust_command(
                *(metrics if scrape else ()),
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


def assert_nothing_lost(run: Outcome) -> None:
    assert run.returncode in (0, 1), run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    kinds = {row["kind"] for row in run.breaches}
    assert kinds <= _SLOW_BUT_CORRECT, run.breaches[:5]
    # Every message the server acknowledged is in its database, and nothing else.
    assert run.messages_after - run.messages_before == run.acknowledged
