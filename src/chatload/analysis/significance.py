"""Is a change in a percentile or a failure ratio more than noise? (No I/O.)

- A quantile: the two runs' samples pooled, ``t`` is the pooled quantile; if the
  candidate's quantile is higher, fewer of its samples lie at or below ``t`` than
  of the baseline's. A one-sided two-proportion z-test on those shares (Mood's
  median test, for any quantile) gives the p-value. It needs no assumption about
  the distributions.
- A quantile is judged only when both runs have the samples to bound it: the
  rank of a sample quantile is binomial, and when its confidence interval (z = 3)
  reaches past the smallest or largest sample, the sample says nothing about that
  quantile. With 30 samples a p99 is the maximum, a single sample.
- A failure ratio: the one-sided two-proportion z-test.
- Many figures are judged at once (34 by default): each at a fixed level, one of
  them would fail by chance on most comparisons of two runs of one build. So the
  family is judged as a whole with Holm's step-down procedure: the smallest
  p-value against ``alpha / m``, the next against ``alpha / (m - 1)``, and so on,
  stopping at the first that holds. The chance that any figure of a comparison of
  two runs of one build is called a regression is then at most ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final, TypeVar

import numpy as np
from hdrh.histogram import HdrHistogram

from chatload.records.hdr import new_histogram, value_buckets

__all__ = [
    "FAMILY_ALPHA",
    "RANK_Z",
    "failure_p_value",
    "highest_judged_share",
    "holm",
    "quantile_p_value",
    "share_is_bounded",
]

RANK_Z: Final = 3.0
FAMILY_ALPHA: Final = 0.01
K = TypeVar("K")


def share_is_bounded(count: int, share: float, z: float = RANK_Z) -> bool:
    """Whether ``count`` samples bound the ``share`` quantile on both sides: the
    binomial rank interval ``count*share -/+ z*sqrt(count*share*(1-share))`` lies
    within the samples."""
    if count <= 0 or not 0 < share < 1:
        return False
    spread = z * math.sqrt(count * share * (1 - share))
    return (
        math.floor(count * share - spread) >= 0 and math.ceil(count * share + spread) <= count - 1
    )


def highest_judged_share(count: int, shares: Sequence[float]) -> float | None:
    """The highest of ``shares`` that ``count`` samples bound (None: none)."""
    bounded = [share for share in shares if share_is_bounded(count, share)]
    return max(bounded) if bounded else None


def _normal_tail(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def _two_proportions(smaller: int, n_small: int, larger: int, n_large: int) -> float:
    """One-sided p-value that the second proportion exceeds the first by chance only."""
    pooled = (smaller + larger) / (n_small + n_large)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_small + 1 / n_large))
    if spread == 0:
        return 0.0 if larger / n_large > smaller / n_small else 1.0
    return _normal_tail((larger / n_large - smaller / n_small) / spread)


def quantile_p_value(base: HdrHistogram, cand: HdrHistogram, share: float) -> float | None:
    """One-sided p-value that the candidate's ``share`` quantile is higher than the
    baseline's by chance only; None when either run has too few samples to tell."""
    n_base, n_cand = base.get_total_count(), cand.get_total_count()
    if not (share_is_bounded(n_base, share) and share_is_bounded(n_cand, share)):
        return None
    pooled = new_histogram()
    pooled.add(base)
    pooled.add(cand)
    values, counts = value_buckets(pooled)
    rank = min(int(share * (n_base + n_cand)), n_base + n_cand - 1)
    threshold = values[int(np.searchsorted(np.cumsum(counts), rank, side="right"))]
    below_base = _at_or_below(base, threshold)
    below_cand = _at_or_below(cand, threshold)
    # A higher candidate quantile: a larger share of its samples *above* t.
    return _two_proportions(n_base - below_base, n_base, n_cand - below_cand, n_cand)


def _at_or_below(histogram: HdrHistogram, value_ms: float) -> int:
    values, counts = value_buckets(histogram)
    return int(counts[values <= value_ms].sum())


def failure_p_value(old_failures: int, old_count: int, new_failures: int, new_count: int) -> float:
    """One-sided p-value that the candidate's failure ratio is higher by chance only."""
    return _two_proportions(old_failures, old_count, new_failures, new_count)


def holm(p_values: Mapping[K, float], alpha: float = FAMILY_ALPHA) -> set[K]:
    """The hypotheses Holm's step-down procedure rejects, at family-wise ``alpha``."""
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    rejected: set[K] = set()
    for position, (key, p_value) in enumerate(ordered):
        if p_value > alpha / (len(ordered) - position):
            break
        rejected.add(key)
    return rejected
