from __future__ import annotations

import math

import numpy as np
import pytest

from chatload.drift import (
    DRIFT_COLUMNS,
    MIN_POINTS,
    DriftSeries,
    Subject,
    drift_rows,
    theil_sen,
)

STEP = 5.0  # seconds per interval, chatload's default


def _series(values: np.ndarray, start: float = 1_800_000_000.0) -> list[tuple[float, float]]:
    return [(start + i * STEP, float(v)) for i, v in enumerate(values)]


def test_a_creep_is_found_with_its_slope() -> None:
    rng = np.random.default_rng(7)
    minutes = np.arange(48) * STEP / 60
    p99 = 12 + 3 * minutes + rng.exponential(2.0, len(minutes))  # 3 ms a minute, 4 min
    trend = theil_sen(_series(p99))
    assert trend is not None
    assert trend.verdict == "rising"
    assert 150 < trend.slope < 210  # 180 ms/h
    assert trend.low > 20  # the whole interval above a 20 ms/h limit


def test_a_steady_noisy_series_is_not_called_rising() -> None:
    """Heavy-tailed noise and a GC sawtooth: in 400 seeded runs of 4 minutes, the
    99 % interval lies above 20 ms/h no more often than its error rate allows."""
    rising = 0
    for seed in range(400):
        rng = np.random.default_rng(seed)
        t = np.arange(48) * STEP
        p99 = 10 + rng.exponential(3.0, len(t)) + (t % 60) / 20
        trend = theil_sen(_series(p99))
        assert trend is not None
        rising += trend.low > 20
    assert rising <= 4  # 1 %: the two-sided 99 % interval errs up 0.5 % of the time


def test_a_slow_wave_widens_the_interval() -> None:
    """Autocorrelated points are fewer independent ones: a 4-minute run that is on
    the rising half of a slow wave does not claim a confident drift."""
    t = np.arange(48) * STEP
    wave = 10 + 2 * np.sin(2 * math.pi * t / 480)  # 8-minute period, rising half
    trend = theil_sen(_series(wave))
    assert trend is not None
    rng = np.random.default_rng(3)
    independent = theil_sen(_series(10 + rng.permutation(wave)))
    assert independent is not None
    assert trend.high - trend.low > 3 * (independent.high - independent.low)


def test_spikes_do_not_move_the_slope() -> None:
    values = np.full(60, 5.0)
    values[[10, 11, 50, 55, 58]] = 500.0  # stalls at the end would tilt least squares
    trend = theil_sen(_series(values))
    assert trend is not None
    assert trend.slope == 0
    assert trend.verdict == "steady"


def test_too_few_points_or_too_short_is_no_trend() -> None:
    assert theil_sen(_series(np.arange(MIN_POINTS - 1, dtype=float))) is None
    short = [(i * 5.0, float(i)) for i in range(11)]  # 50 s
    assert theil_sen(short) is None
    assert theil_sen([(i * 6.0, float(i)) for i in range(11)]) is not None


def test_a_day_of_points_is_binned_and_still_right() -> None:
    rng = np.random.default_rng(11)
    t = np.arange(17_280) * STEP  # 24 h of 5 s intervals
    rss = 100e6 + 1e6 * t / 3600 + rng.normal(0, 2e5, len(t))  # 1 MB/h
    trend = theil_sen(list(zip(t.tolist(), rss.tolist(), strict=True)))
    assert trend is not None
    assert trend.slope == pytest.approx(1e6, rel=0.02)
    assert trend.points == len(t)


def test_relative_drift_is_of_the_median() -> None:
    trend = theil_sen(_series(np.linspace(10, 11, 48)))
    assert trend is not None
    assert trend.level == pytest.approx(10.5)
    assert trend.relative(trend.slope) == pytest.approx(trend.slope / 10.5 * 100)


def test_drift_rows_say_whose_and_project() -> None:
    series = DriftSeries()
    lag = Subject("generator", "loop_lag_p99", source="local", unit="ms")
    delivery = Subject("metric", "delivery", "p99", unit="ms")
    rss = Subject("server", "process_resident_memory_bytes", source="http://x/metrics")
    for i in range(48):
        wall = 1_800_000_000 + i * STEP
        series.add(lag, wall, 1 + i * 0.5)  # the generator's loop falls behind
        series.add(delivery, wall, 10 + i * 0.5)
        series.add(rss, wall, 50e6)
    series.add(Subject("metric", "history", "p50", unit="ms"), 1_800_000_000, 3.0)
    rows = {row[0]: dict(zip(DRIFT_COLUMNS, row, strict=True)) for row in drift_rows(series, 24)}
    assert rows["generator loop_lag_p99 (local)"]["whose"] == "generator"
    assert rows["delivery p99"]["verdict"] == "rising"
    assert rows["delivery p99"]["whose"].startswith("generator?")
    assert rows["server process_resident_memory_bytes (http://x/metrics)"]["verdict"] == "steady"
    assert rows["history p50"]["verdict"] == "not judged"
    slope = float(rows["delivery p99"]["slope_per_h"])
    assert slope == pytest.approx(0.5 / STEP * 3600)
    last = 10 + 47 * 0.5
    assert float(rows["delivery p99"]["projected"]) == pytest.approx(last + slope * 24)
