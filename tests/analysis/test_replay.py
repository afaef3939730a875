"""Offline equals live: a run's consumers replayed from its files give what the run
gave, on a run with every failure kind, late answers, saturation in every phase,
unmeasured RSS, clocks, server scrapes and a search's window."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chatload.analysis.inputs import _LOCUST, load_run
from chatload.analysis.replay import replay
from chatload.records.files import ServerSample
from chatload.records.hdr import IntervalRecorder, IntervalSnapshot, MetricSnapshot
from chatload.records.health import Health, Phase
from chatload.records.pipeline import IntervalPipeline
from chatload.records.windows import Window
from chatload.slo import run_figures
from chatload.tracking.invariants import Breach
from chatload.tracking.metrics import FAILURE_KINDS, METRICS

START = 1_800_000_000.0
INTERVALS = 40
LENGTH = 5.0
WINDOW = (START + 15 * LENGTH, START + 30 * LENGTH)  # a search level: intervals 15..29


def _phase(index: int) -> Phase:
    return "spawning" if index < 2 else "stopping" if index == INTERVALS - 1 else "running"


def _snapshot(rng: random.Random, process: int, index: int) -> IntervalSnapshot:
    start = START + index * LENGTH
    recorder = IntervalRecorder(LENGTH, f"worker-{process}", start)
    for metric in METRICS:
        for _ in range(0 if (index, metric) == (20, "history") else rng.randint(0, 30)):
            seconds = rng.lognormvariate(-5, 1 + index / INTERVALS)
            roll = rng.random()
            if roll < 0.05:  # a timeout: counted with no latency; its answer may come late
                recorder.record(metric, 10.0, "timeout", measured=False)
                if rng.random() < 0.5:
                    recorder.late(metric, 10.0 + seconds, cross_process=rng.random() < 0.3)
            elif roll < 0.15:  # every other kind fails after a measurable wait
                kind = rng.choice([k for k in FAILURE_KINDS if k != "timeout"])
                recorder.record(metric, seconds, kind)
            else:
                recorder.record(metric, seconds, None, cross_process=rng.random() < 0.2)
    if index == 20:  # every history request failed, each after a measured wait
        for _ in range(5):
            recorder.record("history", rng.random(), "server_error")
    # The second process measures no RSS; each saturates now and then, in any phase.
    health = Health.with_rss_bytes(
        (80 + index * 0.37) * 2**20 if process == 0 else None,
        cpu_percent=95.05 if _phase(index) != "running" else rng.choice([35.04, 55.55, 92.25]),
        loop_lag_p50_ms=rng.random(),
        loop_lag_p99_ms=rng.choice([1.23456, 4.5555, 12.0005]) + index / 100,
        loop_lag_max_ms=20 * rng.random(),
        clock_offset_ms=rng.gauss(0, 2),
        clock_uncertainty_ms=rng.random(),
        unsettled_chats=rng.randint(0, 2) if index == INTERVALS - 1 else 0,
    )
    snapshot = recorder.roll(start + LENGTH, health)
    snapshot.phase = _phase(index)
    return snapshot


def _live_run(prefix: Path) -> tuple[IntervalPipeline, Window]:
    rng = random.Random(11)
    pipeline = IntervalPipeline(str(prefix), processes=lambda: 2, horizon_hours=10)
    window: Window | None = None
    for index in range(INTERVALS):
        wall = START + index * LENGTH
        if wall == WINDOW[0] - LENGTH:
            window = pipeline.open_window(WINDOW[0])
        if wall == WINDOW[1]:
            pipeline.close_window()
        pipeline.add_server_metrics(
            wall + 2.5,
            "http://server/metrics",
            [
                ServerSample("process_resident_memory_bytes", "", 1e8 + index * 3e5),
                ServerSample("process_cpu_seconds_total", "", 0.4 * index * LENGTH),
                ServerSample("chat_writes_total", '{kind="send"}', 10.0 * index**1.5),
            ],
        )
        if index % 7 == 3:
            pipeline.add_breaches([Breach("gap", f"c{index}", (index,), (1, 2), "x", 1.0, wall)])
        # The workers report in either order.
        for process in rng.sample([0, 1], 2):
            pipeline.add_interval(_snapshot(rng, process, index))
    pipeline.close()
    _locust_files(prefix)
    assert window is not None
    return pipeline, window


def _locust_files(prefix: Path) -> None:
    """Locust's own files, empty: this run had no Locust."""
    for name, columns in _LOCUST.items():
        Path(f"{prefix}_{name}.csv").write_text(",".join(columns) + "\n")


def _metrics(merged: dict[str, MetricSnapshot]) -> dict[str, tuple[object, ...]]:
    return {
        name: (
            m.operations,
            m.failures,
            m.kinds,
            m.late,
            m.unanswered,
            m.cross_process,
            m.answered,
            m.histogram.get_max_value(),
        )
        for name, m in merged.items()
    }


def test_the_report_replays_what_the_run_judged(tmp_path: Path) -> None:
    live, level = _live_run(tmp_path / "run")
    run = load_run(tmp_path / "run")
    offline = replay(run, [WINDOW], horizon_hours=10)

    assert offline.drift.rows() == live.drift.rows()
    subjects = {row[0] for row in live.drift.rows()}
    assert "generator rss (worker-0)" in subjects and "generator rss (worker-1)" not in subjects
    assert any(subject.startswith("server rate(chat_writes_total)") for subject in subjects)

    assert offline.trust.trust == live.trust.trust
    assert offline.trust.trust.line() == live.trust.trust.line()
    assert offline.trust.saturated_by_phase == live.trust.saturated_by_phase
    assert offline.trust.saturated_by_process == live.trust.saturated_by_process
    assert offline.trust.intervals == live.trust.intervals == INTERVALS
    assert all(offline.trust.saturated_by_phase.values()), "saturated in every phase"

    assert _metrics(offline.run.metrics) == _metrics(live.run.metrics)
    assert (offline.run.first, offline.run.end) == (live.run.first, live.run.end)
    assert run_figures(offline.run.metrics, 60.0, {}) == run_figures(live.run.metrics, 60.0, {})

    [step] = offline.steps
    assert _metrics(step.metrics) == _metrics(level.metrics)
    assert (step.intervals, step.saturated, step.seconds) == (
        level.intervals,
        level.saturated,
        level.seconds,
    )


def test_a_file_out_of_step_with_its_histograms_is_one_line(tmp_path: Path) -> None:
    _live_run(tmp_path / "run")
    path = tmp_path / "run_chat_metrics.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    with pytest.raises(Exception, match=r"run_chat_metrics\.csv, line 2: does not match"):
        replay(load_run(tmp_path / "run"))
