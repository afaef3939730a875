"""Sequential verdicts: a level is decided as soon as its samples decide it, and
never wrongly where the truth is clear of the threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chatload.records.hdr import MetricSnapshot, new_histogram, record_many
from chatload.sequential import Decision, decide, decide_level, order_statistic_ranks
from chatload.slo import parse_threshold, run_figures


def _metric(
    ms: np.ndarray | list[float], *, timeouts: int = 0, failures: int = 0
) -> MetricSnapshot:
    histogram = new_histogram()
    record_many(histogram, np.round(np.asarray(ms, dtype=float) * 1000).astype(np.int64))
    kinds = {"timeout": timeouts} if timeouts else {}
    return MetricSnapshot(histogram, failures=failures + timeouts, kinds=kinds)


def _decide(text: str, metrics: dict[str, MetricSnapshot], breaches: int = 0) -> Decision:
    figures = run_figures(metrics, 10.0, {"loss": breaches} if breaches else {})
    return decide(parse_threshold(text), metrics, figures)


def test_the_ranks_are_the_binomials_95_percent_points() -> None:
    # The median of 100: the 40th and 61st smallest (Conover's table: 40 and 61).
    assert order_statistic_ranks(100, 0.5) == (40, 61)
    # A p99 of 100 samples has no upper bound below the largest: u is past n.
    assert order_statistic_ranks(100, 0.99)[1] == 101
    # 368 samples are the fewest whose p99 has one (0.99^n under 2.5 %).
    assert order_statistic_ranks(368, 0.99)[1] == 368
    assert order_statistic_ranks(367, 0.99)[1] == 368


def test_the_binomial_points_are_scipys_without_importing_it() -> None:
    from scipy import stats

    for n in (1, 5, 37, 100, 368, 1000, 12_345, 1_000_000):
        for q in (0.5, 0.9, 0.95, 0.99, 0.999):
            lower, upper = order_statistic_ranks(n, q)
            assert lower == max(int(stats.binom.ppf(0.025, n, q)), 0), (n, q)
            assert upper == min(int(stats.binom.ppf(0.975, n, q)) + 1, n + 1), (n, q)


def test_a_percentile_holds_fails_or_waits_for_samples() -> None:
    calm = {"send_ack": _metric(np.full(1000, 10.0))}
    assert _decide("send_ack p99 < 100ms", calm) is Decision.HOLDS
    assert _decide("send_ack p99 < 5ms", calm) is Decision.FAILS
    # 100 samples cannot bound a p99 from above: only a failure is decided early.
    few = {"send_ack": _metric(np.full(100, 10.0))}
    assert _decide("send_ack p99 < 100ms", few) is Decision.UNDECIDED
    assert _decide("send_ack p99 < 5ms", few) is Decision.FAILS
    # A threshold inside the interval: 2 % of the samples above it, 1 % allowed.
    mixed = {"send_ack": _metric(np.concatenate([np.full(980, 10.0), np.full(20, 500.0)]))}
    assert _decide("send_ack p99 < 100ms", mixed) is Decision.FAILS
    edge = {"send_ack": _metric(np.concatenate([np.full(990, 10.0), np.full(10, 500.0)]))}
    assert _decide("send_ack p99 < 100ms", edge) is Decision.UNDECIDED
    assert _decide("send_ack p99 < 1ms", {}) is Decision.UNDECIDED  # nothing measured


def test_requests_never_answered_count_as_slower_than_every_answer() -> None:
    # 1,000 quick answers and 30 sends that never were: a p99 beyond every answer.
    lost = {"send_ack": _metric(np.full(1000, 10.0), timeouts=30)}
    assert _decide("send_ack p99 < 100ms", lost) is Decision.FAILS
    assert _decide("send_ack p90 < 100ms", lost) is Decision.HOLDS


def test_a_failure_ratio_is_judged_by_its_interval_and_a_breach_at_once() -> None:
    clean = {"send_ack": _metric(np.full(1000, 10.0))}
    # No failure in 1,000: the ratio's upper end (Wilson's) is 0.38 %, under 1 %.
    assert _decide("all failure_ratio < 1%", clean) is Decision.HOLDS
    assert _decide("all failure_ratio < 0.1%", clean) is Decision.UNDECIDED
    failing = {"send_ack": _metric(np.full(1000, 10.0), failures=50)}
    assert _decide("send_ack failure_ratio < 1%", failing) is Decision.FAILS
    assert _decide("invariant breaches == 0", clean) is Decision.HOLDS
    assert _decide("invariant breaches == 0", clean, breaches=1) is Decision.FAILS
    level, each = decide_level(
        [parse_threshold("send_ack p99 < 100ms"), parse_threshold("invariant breaches == 0")],
        clean,
        run_figures(clean, 10.0, {"loss": 1}),
    )
    assert level is Decision.FAILS and each["send_ack p99 < 100ms"] is Decision.HOLDS


def test_no_level_is_decided_wrongly_where_the_truth_is_20_percent_away() -> None:
    """1,000 seeded levels, each looked at after every 5 s interval up to 8 of them, as
    the search does: lognormal latencies of random spread, a random percentile, the
    threshold 20 % to 3 times away from the true percentile on either side."""
    statistics = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
    wrong, decided = 0, 0
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        statistic = list(statistics)[seed % 4]
        sigma = float(rng.uniform(0.2, 1.5))
        median = float(rng.uniform(5, 200))
        true = median * math.exp(sigma * _normal_quantile(statistics[statistic]))
        factor = float(rng.uniform(1.2, 3.0))
        holds = bool(rng.integers(2))
        limit = true * factor if holds else true / factor
        text = f"delivery {statistic} < {limit:.6f}ms"
        per_interval = int(rng.integers(10, 400))
        samples = np.zeros(0)
        for _ in range(8):
            samples = np.concatenate(
                [samples, median * np.exp(sigma * rng.standard_normal(per_interval))]
            )
            verdict = _decide(text, {"delivery": _metric(samples)})
            if verdict is not Decision.UNDECIDED:
                decided += 1
                wrong += verdict is not (Decision.HOLDS if holds else Decision.FAILS)
                break
    assert wrong == 0
    assert decided >= 900  # and most of them were decided within the 8 intervals


def _normal_quantile(share: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(share))


@pytest.mark.parametrize("op", ["<", "<="])
def test_a_threshold_at_a_sample_is_read_by_its_operator(op: str) -> None:
    # Every sample at exactly 10 ms (the bucket's highest value within 0.1 %).
    metric = {"history": _metric(np.full(2000, 10.0))}
    value = float(np.asarray(run_figures(metric, 1, {}).metrics["history"].percentiles.p50_ms))
    # At the limit itself: "<=" holds; "<" is never shown to hold, nor to fail (the
    # interval's lower end is the limit, not above it).
    assert _decide(f"history p50 {op} {value}ms", metric) is (
        Decision.HOLDS if op == "<=" else Decision.UNDECIDED
    )
