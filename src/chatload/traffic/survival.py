"""Times some of which are known only from below (right-censored): a read that a
session's end cut off took longer than the session left it.

The Kaplan-Meier estimate of their distribution (Kaplan and Meier 1958, "Nonparametric
estimation from incomplete observations", JASA 53:457-481) is compared with a model
only as far as ``AT_RISK_SHARE`` of the sample, or ``AT_RISK_ENOUGH`` values, is still
at risk: past that the estimate rests on a handful (one value at risk that stops there
takes it to 1). On many values the second reaches into the tail (fifty at risk put the
survival's standard error under a seventh of itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from chatload.traffic.families import Family

__all__ = ["AT_RISK_ENOUGH", "AT_RISK_SHARE", "KaplanMeier", "kaplan_meier"]

AT_RISK_SHARE: Final = 0.1
AT_RISK_ENOUGH: Final = 50


@dataclass(frozen=True)
class KaplanMeier:
    """The estimated CDF just after each event time, as far as it is estimated."""

    times: np.ndarray  # distinct exact values, ascending, up to ``until``
    cdf: np.ndarray  # F(t) just after each
    n: int  # exact and censored
    until: float  # the estimate holds up to here (nan: nowhere)

    def at(self, x: np.ndarray) -> np.ndarray:
        """The estimate at ``x`` (within its range): a step up at each time."""
        index = np.searchsorted(self.times, x, side="right") - 1
        return np.where(index >= 0, self.cdf[np.maximum(index, 0)] if len(self.cdf) else 0.0, 0.0)

    def distance(self, family: Family) -> float:
        """The largest gap to ``family``'s CDF on the estimated range (nan: none)."""
        if math.isnan(self.until):
            return math.nan
        # Each step's two sides, and the flat stretch up to ``until``.
        points = np.concatenate([self.times, [self.until]])
        after = np.concatenate([self.cdf, [self.cdf[-1] if len(self.cdf) else 0.0]])
        before = np.concatenate([[0.0], self.cdf])
        model = family.cdf(points)
        return float(max(np.max(np.abs(after - model)), np.max(np.abs(before - model))))

    def quantile(self, share: float) -> float:
        """The first time the estimate reaches ``share`` (nan: not within its range)."""
        return float(self.quantiles(np.array([share]))[0])

    def quantiles(self, shares: np.ndarray) -> np.ndarray:
        if not len(self.times):
            return np.full(len(np.atleast_1d(shares)), math.nan)
        index = np.searchsorted(self.cdf, np.asarray(shares) - 1e-12, side="left")
        inside = index < len(self.times)
        return np.where(inside, self.times[np.minimum(index, len(self.times) - 1)], math.nan)


def kaplan_meier(exact: np.ndarray, beyond: np.ndarray) -> KaplanMeier:
    """The estimate from values known (``exact``) and known to exceed (``beyond``)."""
    exact = np.sort(np.asarray(exact, dtype=float))
    beyond = np.sort(np.asarray(beyond, dtype=float))
    n = len(exact) + len(beyond)
    times, events = np.unique(exact, return_counts=True)
    # At risk at t: the exact values from t on, and the censored ones at t or later
    # (a value cut at t was still waiting at t).
    at_risk = (len(exact) - np.searchsorted(exact, times, side="left")) + (
        len(beyond) - np.searchsorted(beyond, times, side="left")
    )
    least = math.ceil(max(min(AT_RISK_SHARE * n, AT_RISK_ENOUGH), 1))
    if n < least:
        return KaplanMeier(times[:0], np.zeros(0), n, math.nan)
    # At least ``least`` are at risk at t as long as t is at most the least-th largest.
    until = float(np.sort(np.concatenate([exact, beyond]))[n - least])
    kept = times <= until
    times, events, at_risk = times[kept], events[kept], at_risk[kept]
    survival = np.cumprod(1 - events / at_risk)
    return KaplanMeier(times, 1 - survival, n, until)
