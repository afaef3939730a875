"""Sequential verdicts: whether a load level's SLOs are decided by its samples so far.
Pure: histograms in, decisions out.

The samples are the ones the SLOs judge (``slo.run_figures``: answers at their true
latency, each request never answered slower than every answer). A threshold is:

- **a percentile** (``send_ack p99 < 1s``): judged by the distribution-free
  confidence interval of that percentile at 95 % (the order-statistic interval:
  from n samples, the l-th and u-th smallest, l and u the 2.5 % and 97.5 % points of
  the binomial(n, q) count of samples below the q-quantile, u + 1). It *holds* once
  the interval's upper end is under the threshold, *fails* once its lower end is
  above it, and is *undecided* while the threshold lies inside it (Conover,
  "Practical Nonparametric Statistics", 3rd ed., 1999, section 3.2);
- **a failure ratio** (``all failure_ratio < 1%``): the Wilson score interval of the
  ratio at 95 %, the same way;
- **anything else** (a count, a rate, a mean, the breaches): its value so far
  decides it (a breach of the guarantees fails a level at once).

A level fails once one threshold fails, and holds once every one holds.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from typing import Final

import numpy as np

from chatload.records.hdr import PERCENTILE_SHARES, MetricSnapshot, value_buckets
from chatload.slo import RunFigures, Threshold

__all__ = ["CONFIDENCE", "Decision", "decide", "decide_level", "order_statistic_ranks"]

CONFIDENCE: Final = 0.95
_Z: Final = 1.959963984540054  # the standard normal's 97.5 % point
_BELOW: Final = ("<", "<=")  # the operators an interval can decide


class Decision(enum.Enum):
    HOLDS = "holds"
    FAILS = "fails"
    UNDECIDED = "undecided"


def order_statistic_ranks(n: int, quantile: float) -> tuple[int, int]:
    """The 1-based ranks (l, u) of the order statistics that bound the ``quantile``
    of n samples at ``CONFIDENCE``: 0 is below every sample, n + 1 above every one."""
    tail = (1 - CONFIDENCE) / 2
    lower = _binomial_ppf(tail, n, quantile)
    upper = _binomial_ppf(1 - tail, n, quantile) + 1
    # P(lower <= B < upper) >= 95 % for B ~ binomial(n, q): the l-th smallest is at or
    # below the quantile and the u-th at or above it with that probability.
    return max(lower, 0), min(upper, n + 1)


def _binomial_ppf(share: float, n: int, q: float) -> int:
    """The least k with P(binomial(n, q) <= k) >= share. Exact, over the counts within
    12 standard deviations (and 12) of the mean, where all but 1e-30 of the mass lies:
    numpy, not scipy, whose import would stall a generator's event loop for a second."""
    mean, spread = n * q, math.sqrt(n * q * (1 - q))
    low = max(0, math.floor(mean - 12 * spread - 12))
    high = min(n, math.ceil(mean + 12 * spread + 12))
    k = np.arange(low, high + 1, dtype=np.float64)
    first = (
        math.lgamma(n + 1)
        - math.lgamma(low + 1)
        - math.lgamma(n - low + 1)
        + low * math.log(q)
        + (n - low) * math.log1p(-q)
    )
    # pmf(k + 1) / pmf(k) = (n - k) / (k + 1) * q / (1 - q)
    ratios = np.log((n - k[:-1]) / (k[:-1] + 1)) + math.log(q) - math.log1p(-q)
    cdf = np.cumsum(np.exp(first + np.concatenate([[0.0], np.cumsum(ratios)])))
    index = int(np.searchsorted(cdf, share * (1 - 1e-12), side="left"))
    return int(k[min(index, len(k) - 1)])


def _percentile(threshold: Threshold, metric: MetricSnapshot) -> Decision:
    values, counts = value_buckets(metric.histogram)
    n = int(counts.sum()) + max(metric.unanswered, 0)
    if not n:
        return Decision.UNDECIDED
    lower, upper = order_statistic_ranks(n, PERCENTILE_SHARES[threshold.statistic])
    limit = threshold.limit
    strictly = threshold.op == "<"
    # Samples under (or at) the limit: the upper end is under it when at least u are.
    under = int(counts[values < limit if strictly else values <= limit].sum())
    if upper <= n and under >= upper:
        return Decision.HOLDS
    # The lower end is above it when fewer than l samples are at or under it.
    at_most = int(counts[values <= limit].sum()) if strictly else under
    if lower >= 1 and at_most < lower:
        return Decision.FAILS
    return Decision.UNDECIDED


def _wilson(failures: int, count: int) -> tuple[float, float]:
    """The Wilson score interval of a ratio at ``CONFIDENCE`` (Wilson 1927; Brown, Cai
    and DasGupta 2001 recommend it over the exact one, which is needlessly wide)."""
    z = _Z
    share = failures / count
    centre = (share + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(share * (1 - share) / count + z * z / (4 * count * count))
    half /= 1 + z * z / count
    return max(0.0, centre - half), min(1.0, centre + half)


def _ratio(threshold: Threshold, count: int, failures: int) -> Decision:
    if not count:
        return Decision.UNDECIDED
    low, high = _wilson(failures, count)
    if threshold.holds(high):
        return Decision.HOLDS
    if not threshold.holds(low):
        return Decision.FAILS
    return Decision.UNDECIDED


def decide(
    threshold: Threshold, metrics: Mapping[str, MetricSnapshot], figures: RunFigures
) -> Decision:
    """One threshold on a level's samples so far."""
    below = threshold.op in _BELOW
    if below and threshold.statistic in PERCENTILE_SHARES and threshold.target in metrics:
        return _percentile(threshold, metrics[threshold.target])
    if below and threshold.statistic == "failure_ratio" and threshold.target != "invariant":
        chosen = (
            list(metrics.values())
            if threshold.target == "all"
            else [m for name, m in metrics.items() if name == threshold.target]
        )
        count = sum(m.operations for m in chosen)  # as slo.run_figures counts them
        return _ratio(threshold, count, sum(m.failures for m in chosen))
    value = figures.value(threshold)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Decision.UNDECIDED
    return Decision.HOLDS if threshold.holds(value) else Decision.FAILS


def decide_level(
    thresholds: Iterable[Threshold], metrics: Mapping[str, MetricSnapshot], figures: RunFigures
) -> tuple[Decision, dict[str, Decision]]:
    """The level's decision and each threshold's (by its text)."""
    each = {t.text: decide(t, metrics, figures) for t in thresholds}
    if any(d is Decision.FAILS for d in each.values()):
        return Decision.FAILS, each
    if all(d is Decision.HOLDS for d in each.values()):
        return Decision.HOLDS, each
    return Decision.UNDECIDED, each
