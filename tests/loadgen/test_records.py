"""The microsecond exports: contracts, agreement with Locust, accuracy, interruption."""

from __future__ import annotations

import csv
import signal
import subprocess
from pathlib import Path

import pytest

from chatload.bench.accuracy import measure_accuracy
from chatload.records.files import (
    CHAT_METRICS_COLUMNS,
    HEALTH_COLUMNS,
    INVARIANT_COLUMNS,
    SUMMARY_COLUMNS,
)
from tests.loadgen.support import (
    METRICS,
    ROOT,
    headless,
    locust_command,
    read_stats,
    run_locust,
    until,
)


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == columns, path
        return list(reader)


def _locust_bucket(value_ms: float) -> float:
    """Locust rounds stored response times: to 1 ms below 100 ms, to 10 ms below 1 s."""
    return 1.0 if value_ms < 100 else 10.0 if value_ms < 1000 else 100.0


@pytest.mark.slow
def test_the_exports_agree_with_locust(tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    done = run_locust(
        *headless(20, "20s"),
        "--think-min",
        "0.1",
        "--think-max",
        "0.5",
        "--chat-interval",
        "2",
        "--csv",
        str(prefix),
        "--only-summary",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    locust = read_stats(prefix)
    summary = {r["metric"]: r for r in _rows(Path(f"{prefix}_chat_summary.csv"), SUMMARY_COLUMNS)}
    intervals = _rows(Path(f"{prefix}_chat_metrics.csv"), CHAT_METRICS_COLUMNS)
    for metric in METRICS:
        ours, theirs = summary[metric], locust[metric]
        assert int(ours["count"]) == int(theirs["Request Count"]), metric
        assert int(ours["failures"]) == int(theirs["Failure Count"]), metric
        # Per interval, the counts add up to the whole run.
        assert sum(int(r["count"]) for r in intervals if r["metric"] == metric) == int(
            ours["count"]
        )
        if int(ours["count"]) < 100:
            continue  # a percentile of a handful of samples depends on its definition
        for column, locust_column in (("p50_ms", "50%"), ("p95_ms", "95%"), ("p99_ms", "99%")):
            mine, reported = float(ours[column]), float(theirs[locust_column])
            assert abs(mine - reported) <= _locust_bucket(reported), (
                metric,
                column,
                mine,
                reported,
            )
    assert {r["interval_end"] > r["interval_start"] for r in intervals} == {True}
    health = _rows(Path(f"{prefix}_generator_health.csv"), HEALTH_COLUMNS)
    assert health and {r["process"] for r in health} == {"local"}
    assert _rows(Path(f"{prefix}_invariants.csv"), INVARIANT_COLUMNS) == []


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.timeout(500)
def test_a_known_delivery_delay_is_measured_to_within_2_percent() -> None:
    # Half the users get every frame 100 ms late; the other half is the baseline,
    # measured side by side (chatload bench-accuracy), long enough that the p99 is the
    # 40th-odd largest of each half, not a handful of samples from the end. The
    # delayed frames meet a stall of the machine twice (when the server handles them
    # and when its delay line lets them go), the baseline's once: in CI one run's
    # delayed p99 was 2.245 ms over the baseline's + 100 (the p50 0.108 ms). A stall
    # moves one run's tail; a bias of the tool moves every run's. So a run out of
    # the tolerance is measured once more, and both must be out to fail.
    results = []
    for _ in range(2):
        result = measure_accuracy(delay_ms=100.0, pairs=15, duration=90.0)
        assert min(result.samples) > 800
        assert result.tolerance_ms == 2.0
        results.append(result)
        if all(abs(result.error_ms(share)) <= result.tolerance_ms for share in (0.5, 0.99)):
            assert result.within
            return
    raise AssertionError(f"out of the tolerance in two runs: {results}")


@pytest.mark.slow
def test_sigterm_leaves_every_export_complete(tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    locust = subprocess.Popen(
        locust_command(
            *headless(10, "60s"),
            "--chat-interval",
            "1",
            "--think-min",
            "0.1",
            "--think-max",
            "0.3",
            "--csv",
            str(prefix),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    # Interrupted once four intervals hold acknowledged messages.
    metrics = Path(f"{prefix}_chat_metrics.csv")
    until("four intervals with acks", lambda: _intervals_with_acks(metrics, 4), process=locust)
    locust.send_signal(signal.SIGTERM)
    _, err = locust.communicate(timeout=60)
    assert "Traceback" not in err
    intervals = _rows(Path(f"{prefix}_chat_metrics.csv"), CHAT_METRICS_COLUMNS)
    assert len({r["interval_start"] for r in intervals}) >= 4
    summary = {r["metric"]: r for r in _rows(Path(f"{prefix}_chat_summary.csv"), SUMMARY_COLUMNS)}
    assert int(summary["send_ack"]["count"]) == sum(
        int(r["count"]) for r in intervals if r["metric"] == "send_ack"
    )
    assert int(summary["send_ack"]["count"]) > 0
    assert _rows(Path(f"{prefix}_generator_health.csv"), HEALTH_COLUMNS)
    _rows(Path(f"{prefix}_invariants.csv"), INVARIANT_COLUMNS)
    assert read_stats(prefix)["send_ack"]


def _intervals_with_acks(metrics: Path, wanted: int) -> bool:
    if not metrics.exists():
        return False
    with metrics.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return len({r["interval_start"] for r in rows if r["metric"] == "send_ack"}) >= wanted


@pytest.mark.slow
def test_a_saturated_generator_is_called_out(tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    done = run_locust(
        *headless(4, "6s"),
        "--chat-interval",
        "1",
        "--saturation-cpu",
        "0",
        "--csv",
        str(prefix),
        "--only-summary",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the generator was saturated in" in done.stderr
    assert "latencies measured then are the generator's, not the server's" in done.stderr
    intervals = _rows(Path(f"{prefix}_chat_metrics.csv"), CHAT_METRICS_COLUMNS)
    assert {r["generator_saturated"] for r in intervals} == {"true"}
    health = _rows(Path(f"{prefix}_generator_health.csv"), HEALTH_COLUMNS)
    assert {r["saturated"] for r in health} == {"true"}
