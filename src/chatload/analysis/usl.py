"""The Universal Scalability Law fitted to throughput against users.

``X(N) = lambda N / (1 + sigma (N-1) + kappa N (N-1))``: sigma is contention (the
serial share), kappa is coherency (crosstalk, which makes throughput fall past a
peak). Fitted by least squares on its linear form ``N/X = a + b(N-1) + cN(N-1)``
(lambda = 1/a, sigma = b/a, kappa = c/a), which needs no optimiser; at least four
levels are needed to tell the three apart with a residual left to judge the fit by.

A coefficient counts only when the levels show it. Least squares never returns an
exact 0: on a throughput that grows exactly linearly, ``c`` comes out as rounding
residue (±1e-19, its sign and size depending on the BLAS kernel the processor
picks), and a positive residue is a peak at billions of users. So ``b`` and ``c``
are each judged against their standard error, ``t * se`` with Student's t at 95 %
two-sided on the fit's degrees of freedom; the residual behind ``se`` is never taken
below the fit's own rounding precision (machine epsilon times the design's
condition number times the data's norm), so an exact fit cannot make rounding
residue significant. A coefficient that is negative or within its ``t * se`` of 0
is 0, and the others are fitted again without it, one at a time, the least
significant first: with few levels ``b`` and ``c`` are collinear, so each alone can
look insignificant while the levels plainly bend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import stats

__all__ = ["UslFit", "fit_usl"]

MIN_LEVELS: Final = 4
_CONFIDENCE: Final = 0.95
_EPSILON: Final = float(np.finfo(float).eps)


@dataclass(frozen=True, slots=True)
class UslFit:
    lam: float  # throughput of one user
    sigma: float
    kappa: float
    error: float  # root mean square of the relative residuals of X
    levels: int

    def throughput(self, users: float) -> float:
        return self.lam * users / (1 + self.sigma * (users - 1) + self.kappa * users * (users - 1))

    @property
    def peak_users(self) -> float:
        """Where throughput peaks (infinite without crosstalk)."""
        if self.kappa <= 0:
            return math.inf
        return math.sqrt(max(1 - self.sigma, 0.0) / self.kappa)

    @property
    def peak_throughput(self) -> float:
        peak = self.peak_users
        if math.isinf(peak):
            return self.lam / self.sigma if self.sigma > 0 else math.inf
        return self.throughput(peak)

    def text(self) -> str:
        peak = self.peak_users
        where = "no peak (kappa 0)" if math.isinf(peak) else f"peak {peak:,.0f} users"
        predicted = self.peak_throughput
        ceiling = (
            "throughput unbounded (sigma 0)"
            if math.isinf(predicted)
            else f"{predicted:,.1f} messages/s predicted"
        )
        return (
            f"USL fit over {self.levels} levels: sigma = {self.sigma:.4f}, "
            f"kappa = {self.kappa:.2e}; {where}, {ceiling}; "
            f"fit error {self.error:.1%} (RMS of the relative residuals)"
        )


def _least_squares(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    return np.asarray(coefficients, dtype=float)


def _t_ratios(design: np.ndarray, y: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """Each coefficient after the intercept over its ``t * se`` (the module's
    docstring): the levels show it when the ratio exceeds 1."""
    dof = len(y) - design.shape[1]
    scale = np.linalg.norm(design, axis=0)
    scaled = design / scale
    residual = math.sqrt(math.fsum(float(r) ** 2 for r in y - design @ coefficients))
    rounding = _EPSILON * float(np.linalg.cond(scaled)) * float(np.linalg.norm(y))
    variance = max(residual, rounding) ** 2 / dof
    unscaled = np.linalg.pinv(scaled.T @ scaled).diagonal() / scale**2
    standard_error = np.sqrt(variance * unscaled)
    threshold = float(stats.t.ppf(0.5 + _CONFIDENCE / 2, dof)) * standard_error
    return np.asarray(coefficients[1:] / threshold[1:])


def fit_usl(points: Sequence[tuple[float, float]]) -> UslFit | None:
    """The fit of ``(users, throughput)`` points; None with too few, or none that
    makes sense (a throughput that does not grow with users)."""
    usable = [(n, x) for n, x in points if n >= 1 and x > 0]
    if len({n for n, _ in usable}) < MIN_LEVELS:
        return None
    n = np.array([p[0] for p in usable], dtype=float)
    x = np.array([p[1] for p in usable], dtype=float)
    y = n / x
    columns = np.column_stack([np.ones_like(n), n - 1, n * (n - 1)])
    kept = [0, 1, 2]
    while True:
        coefficients = _least_squares(columns[:, kept], y)
        if coefficients[0] <= 0:
            return None
        ratios = _t_ratios(columns[:, kept], y, coefficients)
        if len(ratios) == 0 or ratios.min() > 1:
            break
        del kept[1 + int(ratios.argmin())]
    full = dict.fromkeys((1, 2), 0.0) | dict(zip(kept, map(float, coefficients), strict=True))
    a, b, c = full[0], full[1], full[2]
    fit = UslFit(1 / a, b / a, c / a, 0.0, len(usable))
    predicted = np.array([fit.throughput(users) for users in n])
    error = math.sqrt(math.fsum(float(r) ** 2 for r in (predicted - x) / x) / len(x))
    return UslFit(fit.lam, fit.sigma, fit.kappa, error, len(usable))
