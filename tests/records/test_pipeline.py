from __future__ import annotations

import csv
from pathlib import Path

import pytest

from chatload.records.files import SampleWriter, ServerSample, iso_time
from chatload.records.hdr import IntervalRecorder, IntervalSnapshot
from chatload.records.health import Health, Saturation
from chatload.records.pipeline import IntervalPipeline
from chatload.tracking.invariants import Breach
from chatload.tracking.metrics import Sample


def _snapshot(
    process: str, start: float, values_ms: list[float], health: Health | None
) -> IntervalSnapshot:
    recorder = IntervalRecorder(5.0, process, start)
    for value in values_ms:
        recorder.record("delivery", value / 1000)
    return recorder.roll(start + 5.0, health)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_processes_merge_into_one_row_per_interval(tmp_path: Path) -> None:
    exporter = IntervalPipeline(
        str(tmp_path / "run"), processes=lambda: 2, saturation=Saturation(cpu_percent=90, lag_ms=10)
    )
    exporter.add_interval(_snapshot("worker-0", 100.0, [1.0, 2.0], Health(cpu_percent=50)))
    assert _read(tmp_path / "run_chat_metrics.csv") == [], "waits for the other worker"
    exporter.add_interval(_snapshot("worker-1", 100.0, [3.0], Health(cpu_percent=95)))
    [row] = _read(tmp_path / "run_chat_metrics.csv")
    assert (row["interval_start"], row["interval_end"]) == (iso_time(100.0), iso_time(105.0))
    assert (row["metric"], row["count"], row["failures"]) == ("delivery", "3", "0")
    assert (row["min_ms"], row["max_ms"]) == ("1.000", "3.001")
    assert row["generator_saturated"] == "true"  # worker-1 was at 95 % CPU
    health = _read(tmp_path / "run_generator_health.csv")
    assert [(h["process"], h["saturated"]) for h in health] == [
        ("worker-0", "false"),
        ("worker-1", "true"),
    ]
    assert exporter.trust.saturated_by_process == {"worker-1": 1}
    exporter.close()


def test_a_missing_worker_does_not_hold_the_files_back(tmp_path: Path) -> None:
    exporter = IntervalPipeline(str(tmp_path / "run"), processes=lambda: 2)
    for start in (0.0, 5.0, 10.0):
        exporter.add_interval(_snapshot("worker-0", start, [1.0], None))
    assert len(_read(tmp_path / "run_chat_metrics.csv")) == 1  # two newer intervals arrived
    exporter.close()
    rows = _read(tmp_path / "run_chat_metrics.csv")
    assert len(rows) == 3
    [summary] = _read(tmp_path / "run_chat_summary.csv")
    assert (summary["metric"], summary["count"]) == ("delivery", "3")
    assert (summary["first_interval_start"], summary["last_interval_end"]) == (
        iso_time(0.0),
        iso_time(15.0),
    )


def test_breaches_and_samples(tmp_path: Path) -> None:
    exporter = IntervalPipeline(str(tmp_path / "run"), processes=lambda: 1)
    exporter.add_breaches([Breach("gap", "c1", (4, 5), (1, 2), "2 ids skipped", 10.0, 60.0)])
    exporter.close()
    [row] = _read(tmp_path / "run_invariants.csv")
    assert row == {
        "time": iso_time(60.0),
        "kind": "gap",
        "chat_id": "c1",
        "message_ids": "4 5",
        "users": "1 2",
        "detail": "2 ids skipped",
    }
    writer = SampleWriter(tmp_path / "samples.csv")
    writer.add(60.0, Sample("delivery", 0.0012345, chat_id="c1", user_id=7), "")
    writer.add(61.0, Sample("delivery", 0.002, chat_id="c1", user_id=8, cross_process=True), "")
    writer.close()
    sample, crossed = _read(tmp_path / "samples.csv")
    assert sample == {
        "time": iso_time(60.0),
        "metric": "delivery",
        "response_time_ms": "1.234",
        "failure_kind": "",
        "chat_id": "c1",
        "user_id": "7",
        "cross_process": "false",
    }
    assert crossed["cross_process"] == "true"


def test_without_a_prefix_nothing_is_written(tmp_path: Path) -> None:
    exporter = IntervalPipeline(None, processes=lambda: 1)
    exporter.add_interval(_snapshot("local", 0.0, [1.0], Health(cpu_percent=99)))
    exporter.close()
    assert list(tmp_path.iterdir()) == []
    assert exporter.trust.saturated_by_process == {"local": 1}


def test_a_late_answer_counts_at_its_true_latency_and_a_lost_one_as_slower_than_all(
    tmp_path: Path,
) -> None:
    exporter = IntervalPipeline(str(tmp_path / "run"), processes=lambda: 1)
    first = IntervalRecorder(5.0, "local", 100.0)
    for _ in range(18):
        first.record("delivery", 0.010)
    for _ in range(2):  # two waits time out at 10 s: counted, with no latency yet
        first.record("delivery", 10.0, "timeout", measured=False)
    exporter.add_interval(first.roll(105.0))
    second = IntervalRecorder(5.0, "local", 105.0)
    second.late("delivery", 12.0)  # one of them comes after all, 12 s after its send
    exporter.add_interval(second.roll(110.0, Health(unsettled_chats=3)))
    exporter.close()
    rows = _read(tmp_path / "run_chat_metrics.csv")
    assert [(r["count"], r["failures"], r["late"]) for r in rows] == [
        ("20", "2", "0"),
        ("0", "0", "1"),
    ]
    assert rows[0]["max_ms"] == "10.007", "a timeout is not a latency"
    assert rows[1]["p50_ms"] == "12001.279"
    [summary] = _read(tmp_path / "run_chat_summary.csv")
    assert (summary["count"], summary["failures"], summary["late"], summary["unanswered"]) == (
        "20",
        "2",
        "1",
        "1",
    )
    # 18 answers in 10 ms, one in 12 s, one never: the p90 is the late one's
    # true latency, the p95 and the maximum are beyond every answer.
    assert (summary["p50_ms"], summary["p90_ms"], summary["p95_ms"], summary["max_ms"]) == (
        "10.007",
        "12001.279",
        "inf",
        "inf",
    )
    assert exporter.trust.trust.unsettled == 3
    assert "3 chats unsettled" in exporter.trust.trust.line()


def test_drift_takes_the_running_intervals_and_the_server_scrapes_within_them(
    tmp_path: Path,
) -> None:
    exporter = IntervalPipeline(str(tmp_path / "run"), processes=lambda: 1, horizon_hours=10)
    start = 1_800_000_000.0
    first = _snapshot("local", start, [900.0], Health.with_rss_bytes(50e6))
    first.phase = "spawning"  # start-up: excluded from every drift
    exporter.add_interval(first)
    for i in range(1, 15):
        at = start + 5.0 * i
        # The server's RSS as scraped: its CPU counter's rate is 0.5 s/s.
        exporter.add_server_metrics(
            at + 1.0,
            "http://server/metrics",
            [
                ServerSample("process_resident_memory_bytes", "", 100e6 + i * 1e6),
                ServerSample("process_cpu_seconds_total", "", 0.5 * 5.0 * i),
                ServerSample("request_seconds_bucket", '{le="0.1"}', float(i)),
            ],
        )
        health = Health.with_rss_bytes(50e6 + i * 1e5, loop_lag_p99_ms=1.0)
        exporter.add_interval(_snapshot("local", at, [10.0 + i, 20.0 + 2 * i], health))
    exporter.close()
    rows = {row["subject"]: row for row in _read(tmp_path / "run_drift.csv")}
    delivery = rows["delivery p99"]
    # 2 ms more each 5 s interval (the spawning interval's 900 ms left out).
    assert float(delivery["slope_per_h"]) == pytest.approx(2 * 720, rel=0.01)
    assert delivery["points"] == "14" and delivery["verdict"] == "rising"
    rss = rows["server process_resident_memory_bytes (http://server/metrics)"]
    assert rss["unit"] == "bytes" and float(rss["slope_per_h"]) == pytest.approx(720e6)
    cpu = rows["server rate(process_cpu_seconds_total) (http://server/metrics)"]
    assert float(cpu["slope_per_h"]) == pytest.approx(0) and cpu["points"] == "13"
    assert not any("bucket" in subject for subject in rows)
    assert rows["generator rss (local)"]["whose"] == "generator"
    scraped = _read(tmp_path / "run_server_metrics.csv")
    assert len(scraped) == 14 * 3
    assert scraped[0]["name"] == "process_resident_memory_bytes"
    assert scraped[2]["labels"] == '{le="0.1"}'
    health = _read(tmp_path / "run_generator_health.csv")
    assert health[-1]["rss_mib"] == f"{(50e6 + 14e5) / (1 << 20):.1f}"
