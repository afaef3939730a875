"""Regression verdicts that hold on an A/A comparison and still find real changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from chatload.analysis.compare import compare_totals
from chatload.analysis.comparison import ComparePolicy, Totals
from chatload.analysis.inputs import load_run
from chatload.analysis.replay import replay
from chatload.analysis.significance import (
    failure_p_value,
    highest_judged_share,
    holm,
    quantile_p_value,
    share_is_bounded,
)
from chatload.records.hdr import MetricSnapshot, new_histogram, record_many, value_buckets
from chatload.records.windows import Window
from tests.loadgen.support import headless, run_locust


def histogram(values_us: np.ndarray) -> HdrHistogram:
    h = new_histogram()
    record_many(h, values_us.astype(np.int64))
    return h


def test_thirty_samples_bound_p90_at_most() -> None:
    assert share_is_bounded(30, 0.5) and share_is_bounded(30, 0.9) is False
    assert highest_judged_share(30, (0.5, 0.9, 0.95, 0.99)) == 0.5
    assert highest_judged_share(200, (0.5, 0.9, 0.95, 0.99)) == 0.9
    assert highest_judged_share(400, (0.5, 0.9, 0.95, 0.99)) == 0.95
    assert highest_judged_share(2000, (0.5, 0.9, 0.95, 0.99, 0.999)) == 0.99
    assert highest_judged_share(3, (0.5,)) is None


def test_a_shift_is_significant_and_noise_is_not() -> None:
    rng = np.random.default_rng(1)
    base = histogram(rng.lognormal(8, 0.5, 5000))
    same = histogram(rng.lognormal(8, 0.5, 5000))
    shifted = histogram(rng.lognormal(8, 0.5, 5000) + 20_000)
    noise = quantile_p_value(base, same, 0.5)
    median = quantile_p_value(base, shifted, 0.5)
    tail = quantile_p_value(base, shifted, 0.99)
    assert noise is not None and noise > 0.01
    assert median is not None and median < 1e-12
    assert tail is not None and tail < 1e-6
    assert quantile_p_value(histogram(rng.lognormal(8, 0.5, 30)), base, 0.99) is None
    assert failure_p_value(10, 10_000, 12, 10_000) > 0.01
    assert failure_p_value(10, 10_000, 60, 10_000) < 1e-6


def test_holm_controls_the_family() -> None:
    assert holm({"a": 0.0001, "b": 0.02, "c": 0.004}, alpha=0.01) == {"a", "c"}
    assert holm({"a": 0.0001, "b": 0.006, "c": 0.004}, alpha=0.01) == {"a", "b", "c"}
    assert holm({"a": 0.001, "b": 0.004}, alpha=0.01) == {"a", "b"}
    assert holm({"a": 0.02, "b": 0.0001}, alpha=0.01) == {"b"}
    assert holm({}, alpha=0.01) == set()


def _resample(totals: Totals, rng: np.random.Generator, change: object = None) -> Totals:
    """The same run measured again: as many samples of each metric, drawn from it;
    ``change`` (metric, microseconds) -> microseconds, applied to the draw."""
    out = Totals(Window(), totals.seconds)
    for metric, merged in totals.window.metrics.items():
        values_ms, counts = value_buckets(merged.histogram)
        draw = rng.choice(values_ms * 1000, size=int(counts.sum()), p=counts / counts.sum())
        if callable(change):
            draw = change(metric, draw)
        out.window.metrics[metric] = MetricSnapshot(histogram(draw))
    return out


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Totals:
    prefix = tmp_path_factory.mktemp("real") / "run"
    done = run_locust(
        *headless(20, "20s"),
        "--csv",
        str(prefix),
        "--think-min",
        "0.2",
        "--think-max",
        "1",
        "--only-summary",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run = load_run(Path(f"{prefix}_chat_metrics.csv").parent)
    return Totals(replay(run).run, run.end - run.start)


@pytest.mark.slow
def test_aa_comparisons_rarely_say_regression_and_real_changes_always_do(
    real_run: Totals,
) -> None:
    rng = np.random.default_rng(7)
    policy = ComparePolicy()
    pairs = 100
    false_alarms = sum(
        any(
            c.regressed
            for c in compare_totals(
                _resample(real_run, rng), _resample(real_run, rng), 0, 0, policy
            )
        )
        for _ in range(pairs)
    )
    assert false_alarms <= 0.05 * pairs, false_alarms

    def later(metric: str, values: np.ndarray) -> np.ndarray:
        return values + 20_000 if metric == "delivery" else values

    def slower(metric: str, values: np.ndarray) -> np.ndarray:
        return values * 2

    for change, must in ((later, {("delivery", "p50")}), (slower, {("send_ack", "p50")})):
        for _ in range(10):
            found = compare_totals(
                _resample(real_run, rng), _resample(real_run, rng, change), 0, 0, policy
            )
            regressed = {(c.metric, c.statistic) for c in found if c.regressed}
            assert must <= regressed, regressed
