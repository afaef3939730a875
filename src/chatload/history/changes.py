"""Where a series of runs changed: E-divisive means with a t-test. Pure (numpy).

The published algorithm of Apache Otava (formerly DataStax Hunter): Fleming et al.,
"Hunter: Using Change Point Detection to Hunt for Performance Regressions", ICPE
2023 (arXiv 2301.03034), on Matteson and James's E-divisive means (JASA 2014,
arXiv 1306.4933), with Student's t-test in place of permutations so that the same
runs always give the same answer. Its defaults: windows of 50 runs stepping by
half a window, p 0.001 (the windows' first pass at ten times it).

1. **Split.** In each window, the split that maximizes the energy distance's
   q-hat between the runs before and after it is a candidate; it is kept while a
   t-test of the two sides says p <= 10 x ``p_value``, and each side is split again.
   The windows' points together are the weak change points.
2. **Merge.** Each weak point is tested against its neighbours' segments; the
   weakest that is not a change (p over ``p_value``, a change under ``min_change``,
   or a side shorter than ``min_runs``) is dropped and its neighbours retested,
   until every point left is one.

Where this differs from Otava's code, each for a CI that runs every night and was
measured on A/A histories (``tests/history``, docs/history.md): the t-test's p is
multiplied by the positions a window's split was chosen among (Bonferroni: the best
split of 49 is not one test) and its variance widened by the runs' lag-1
autocorrelation; a change needs ``min_runs`` runs on each side (a single spike is two
points a run apart) and must move the sides' medians as well as their means (one
slow run among the last three is no step); a dropped point's neighbours on both
sides are retested; and points too crowded to test (a side under ``min_runs``) are
dropped after the testable ones, smallest change first, not by their p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = ["MIN_CHANGE", "MIN_RUNS", "P_VALUE", "WINDOW", "Change", "change_points"]

WINDOW: Final = 50
P_VALUE: Final = 0.001
MIN_CHANGE: Final = 0.05
MIN_RUNS: Final = 3
_FIRST_PASS: Final = 10.0  # the windows' p, times p_value


@dataclass(frozen=True, slots=True)
class Change:
    """A change point: the runs from ``index`` on differ from those before it, back
    to the previous change point (or the start) and on to the next (or the end).
    Means and spreads are in the series' own units (for a log series, geometric)."""

    index: int
    before: float
    after: float
    spread_before: float  # the standard deviation (log: as a factor, e.g. 1.03)
    spread_after: float
    runs_before: int
    runs_after: int
    p_value: float

    @property
    def relative(self) -> float:
        """after / before - 1 (inf when before is 0 and after is not)."""
        if self.before == 0:
            return 0.0 if self.after == 0 else math.inf
        return self.after / self.before - 1.0

    @property
    def magnitude(self) -> float:
        """The larger of the change each way, |after/before - 1| or |before/after - 1|."""
        if self.before == 0 or self.after == 0:
            return 0.0 if self.before == self.after else math.inf
        return max(abs(self.after / self.before - 1), abs(self.before / self.after - 1))


@dataclass(frozen=True, slots=True)
class _Point:
    index: int
    p_value: float
    magnitude: float
    runs_before: int
    runs_after: int


def change_points(
    values: NDArray[np.float64] | list[float],
    *,
    log: bool = False,
    window: int = WINDOW,
    p_value: float = P_VALUE,
    min_change: float = MIN_CHANGE,
    min_runs: int = MIN_RUNS,
) -> list[Change]:
    """The change points of ``values`` (in run order), earliest first. With ``log``
    the values (all > 0) are analyzed in log space, as latencies should be: a
    change is then a ratio, and its means are geometric."""
    if window < 4:
        raise ValueError("the window must hold at least 4 runs")
    series = np.asarray(values, dtype=np.float64)
    if log:
        if series.size and not np.all(series > 0):
            raise ValueError("a log series needs values above 0")
        series = np.log(series)
    # Bonferroni over the splits a window chose among (fewer in a short history).
    positions = max(min(window, series.size) - 1, 1)
    weak = _split(series, window, min(p_value * _FIRST_PASS, 0.5))
    merged = _merge(
        series,
        weak,
        p_value=p_value,
        min_change=min_change,
        min_runs=min_runs,
        log=log,
        positions=positions,
    )
    kept = _refine(series, merged)
    return [_change(series, kept, i, log, positions) for i in range(len(kept))]


def _split(series: NDArray[np.float64], window: int, p_value: float) -> list[int]:
    """The weak change points: those of each window, stepping by half a window."""
    points: set[int] = set()
    start, step = 0, window // 2
    while start < series.size:
        end = min(start + window, series.size)
        found = _divide(series[start:end], p_value, end - start - 1)
        points.update(start + index for index in found)
        start = max(start + max(found, default=0), start + step)
    return sorted(points)


def _divide(values: NDArray[np.float64], p_value: float, positions: int) -> list[int]:
    """E-divisive means on one window: split at the best candidate while significant."""
    cumulative = _block_sums(values)
    cuts: list[int] = []
    while True:
        bounds = [0, *cuts, values.size]
        best: tuple[float, int, int, int] | None = None
        for start, end in pairwise(bounds):
            if end - start < 2:
                continue
            qhat, tau = _candidate(cumulative, start, end)
            if best is None or qhat > best[0]:
                best = (qhat, tau, start, end)
        if best is None:
            return cuts
        _, tau, start, end = best
        if _t_test(values[start:tau], values[tau:end], positions) > p_value:
            return cuts
        cuts = sorted([*cuts, tau])


def _block_sums(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """P[i, j]: the sum of |x_a - x_b| over a < i, b < j (a 2-D prefix sum)."""
    distances = np.abs(values[:, None] - values[None, :])
    prefix = np.zeros((values.size + 1, values.size + 1))
    prefix[1:, 1:] = distances.cumsum(axis=0).cumsum(axis=1)
    return prefix


def _candidate(prefix: NDArray[np.float64], start: int, end: int) -> tuple[float, int]:
    """The split tau of values[start:end] maximizing q-hat(values[start:tau],
    values[tau:kappa]) over every kappa (Matteson and James, eq. 11), and that q-hat.
    The distances are symmetric, and so are their prefix sums: every block sum is
    one slice of them and three of their diagonal and first row."""
    diagonal = np.diagonal(prefix)
    at_tau = diagonal[start + 1 : end, None]  # P[tau, tau]
    at_kappa = diagonal[None, start + 2 : end + 1]  # P[kappa, kappa]
    row_tau = prefix[start, start + 1 : end, None]  # P[start, tau]
    row_kappa = prefix[start, None, start + 2 : end + 1]  # P[start, kappa]
    grid = prefix[start + 1 : end, start + 2 : end + 1]  # P[tau, kappa]
    between = grid - row_kappa - at_tau + row_tau
    within_before = (at_tau - 2 * row_tau + prefix[start, start]) / 2
    within_after = (at_kappa - 2 * grid + at_tau) / 2
    n = np.arange(1, end - start, dtype=np.float64)[:, None]  # tau - start
    m = np.arange(2, end - start + 1, dtype=np.float64)[None, :] - n  # kappa - tau
    with np.errstate(divide="ignore", invalid="ignore"):
        total = n + m
        qhat = (
            2 * between / total
            - np.where(n > 1, 2 * m * within_before / (total * (n - 1)), 0.0)
            - np.where(m > 1, 2 * n * within_after / (total * (m - 1)), 0.0)
        )
    qhat = np.where(m > 0, qhat, -np.inf)
    best = int(np.argmax(qhat))
    return float(qhat.flat[best]), start + 1 + best // qhat.shape[1]


def _t_test(before: NDArray[np.float64], after: NDArray[np.float64], positions: int) -> float:
    """Student's two-sided t-test of equal means, its p times the ``positions`` the
    split was chosen among (Bonferroni: the best of them is not one test), and its
    variance widened for runs that follow their predecessor (lag-1 autocorrelation
    rho of the residuals: a mean's variance grows by (1 + rho) / (1 - rho))."""
    n, m = before.size, after.size
    if n + m <= 2:
        return 1.0
    difference = float(after.mean() - before.mean())
    residuals = [before - before.mean(), after - after.mean()]
    squares = float(sum((r**2).sum() for r in residuals))
    if squares <= 1e-24 * max(1.0, difference**2):
        return 0.0 if abs(difference) > 1e-12 else 1.0
    lagged = float(sum((r[1:] * r[:-1]).sum() for r in residuals))
    rho = min(max(lagged / squares, 0.0), 0.9)
    pooled = squares / (n + m - 2) * (1 + rho) / (1 - rho)
    t = abs(difference) / math.sqrt(pooled * (1 / n + 1 / m))
    return min(1.0, float(2 * special.stdtr(n + m - 2, -t)) * max(positions, 1))


def _merge(
    series: NDArray[np.float64],
    weak: list[int],
    *,
    p_value: float,
    min_change: float,
    min_runs: int,
    log: bool,
    positions: int,
) -> list[int]:
    """Drop the weakest point that is not a change, retest its neighbours, repeat."""
    kept = list(weak)
    points = [_point(series, kept, i, log, positions) for i in range(len(kept))]
    while points:
        failing = []
        for i, point in enumerate(points):
            crowded = min(point.runs_before, point.runs_after) < min_runs
            if crowded or point.p_value > p_value or point.magnitude < min_change:
                failing.append(
                    (not crowded, 0.0 if crowded else point.p_value, -point.magnitude, i)
                )
        if not failing:
            break
        # The weakest first: of points whose sides are long enough to test, the least
        # significant; then of crowded ones (a side shorter than min_runs: their p says
        # nothing), the smallest change. Weak points a run apart around one step (a
        # slow run beside it) leave each other sides of one run, and the step's own p
        # is then 1: by p it would go first.
        weakest = max(failing)[-1]
        del kept[weakest], points[weakest]
        for i in (weakest - 1, weakest):
            if 0 <= i < len(kept):
                points[i] = _point(series, kept, i, log, positions)
    return kept


def _refine(series: NDArray[np.float64], kept: list[int]) -> list[int]:
    """Each point moved to the best split between its neighbours (the largest
    n m / (n + m) x the means' difference squared): a window that saw only part of
    a segment may have placed it a run or two off."""
    points = list(kept)
    for i in range(len(points)):
        start = points[i - 1] if i > 0 else 0
        end = points[i + 1] if i + 1 < len(points) else series.size
        span = series[start:end]
        taus = np.arange(1, span.size)
        sums = np.cumsum(span)[:-1]
        n, m = taus.astype(np.float64), (span.size - taus).astype(np.float64)
        difference = (span.sum() - sums) / m - sums / n
        points[i] = start + int(taus[np.argmax(n * m / (n + m) * difference**2)])
    return points


def _sides(series: NDArray[np.float64], kept: list[int], i: int) -> tuple[NDArray[np.float64], ...]:
    start = kept[i - 1] if i > 0 else 0
    end = kept[i + 1] if i + 1 < len(kept) else series.size
    return series[start : kept[i]], series[kept[i] : end]


def _point(
    series: NDArray[np.float64], kept: list[int], i: int, log: bool, positions: int
) -> _Point:
    before, after = _sides(series, kept, i)
    return _Point(
        kept[i],
        _t_test(before, after, positions),
        min(_magnitude(before.mean(), after.mean(), log), _moved(before, after, log)),
        before.size,
        after.size,
    )


def _magnitude(before: float, after: float, log: bool) -> float:
    if log:
        return math.expm1(abs(after - before))
    return Change(0, float(before), float(after), 0, 0, 0, 0, 1).magnitude


def _moved(before: NDArray[np.float64], after: NDArray[np.float64], log: bool) -> float:
    """How far the medians moved the way the means did (0: they did not): one slow
    run among the last few moves their mean, not their median, and is no step."""
    means, medians = after.mean() - before.mean(), np.median(after) - np.median(before)
    if means * medians <= 0 and means != medians:
        return 0.0
    return _magnitude(float(np.median(before)), float(np.median(after)), log)


def _change(
    series: NDArray[np.float64], kept: list[int], i: int, log: bool, positions: int
) -> Change:
    before, after = _sides(series, kept, i)

    def spread(values: NDArray[np.float64]) -> float:
        sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
        return math.exp(sd) if log else sd

    def centre(values: NDArray[np.float64]) -> float:
        return math.exp(float(values.mean())) if log else float(values.mean())

    return Change(
        kept[i],
        centre(before),
        centre(after),
        spread(before),
        spread(after),
        before.size,
        after.size,
        _t_test(before, after, positions),
    )
