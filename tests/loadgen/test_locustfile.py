"""The README's runs: headless against the embedded server, alone and with --processes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.loadgen.support import assert_every_metric_clean, headless, read_stats, run_locust


@pytest.mark.slow
def test_headless_run_against_the_embedded_server(tmp_path: Path) -> None:
    done = run_locust(
        *headless(20, "20s"),
        "--csv",
        str(tmp_path / "run"),
        "--only-summary",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "embedded reference server at ws://127.0.0.1:" in done.stderr
    stats = read_stats(tmp_path / "run")
    assert_every_metric_clean(stats, tmp_path / "run")
    assert int(stats["connect"]["Request Count"]) >= 20
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_headless_run_with_two_processes(tmp_path: Path) -> None:
    done = run_locust(
        *headless(20, "20s"),
        "--processes",
        "2",
        "--csv",
        str(tmp_path / "run"),
        "--only-summary",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stats = read_stats(tmp_path / "run")
    assert_every_metric_clean(stats, tmp_path / "run")
    assert "Traceback" not in done.stderr
    # chatload's exports merge both workers at the master.
    with (tmp_path / "run_generator_health.csv").open() as handle:
        assert {row["process"] for row in csv.DictReader(handle)} == {"worker-0", "worker-1"}
    with (tmp_path / "run_chat_summary.csv").open() as handle:
        summary = {row["metric"]: row for row in csv.DictReader(handle)}
    for metric in ("send_ack", "delivery", "read_propagation"):
        assert summary[metric]["count"] == stats[metric]["Request Count"], metric
