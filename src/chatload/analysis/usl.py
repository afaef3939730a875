"""The Universal Scalability Law fitted to throughput against users.

``X(N) = lambda N / (1 + sigma (N-1) + kappa N (N-1))``: sigma is contention (the
serial share), kappa is coherency (crosstalk, which makes throughput fall past a
peak). Fitted by least squares on its linear form ``N/X = a + b(N-1) + cN(N-1)``
(lambda = 1/a, sigma = b/a, kappa = c/a), which needs no optimiser; at least four
levels are needed to tell the three apart with a residual left to judge the fit by.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["UslFit", "fit_usl"]

MIN_LEVELS = 4


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
        return (
            f"USL fit over {self.levels} levels: sigma = {self.sigma:.4f}, "
            f"kappa = {self.kappa:.2e}; "
            f"{where}, {self.peak_throughput:,.1f} messages/s predicted; "
            f"fit error {self.error:.1%} (RMS of the relative residuals)"
        )


def fit_usl(points: Sequence[tuple[float, float]]) -> UslFit | None:
    """The fit of ``(users, throughput)`` points; None with too few, or none that
    makes sense (a throughput that does not grow with users)."""
    usable = [(n, x) for n, x in points if n >= 1 and x > 0]
    if len({n for n, _ in usable}) < MIN_LEVELS:
        return None
    n = np.array([p[0] for p in usable], dtype=float)
    x = np.array([p[1] for p in usable], dtype=float)
    design = np.column_stack([np.ones_like(n), n - 1, n * (n - 1)])
    (a, b, c), *_ = np.linalg.lstsq(design, n / x, rcond=None)
    if a <= 0:
        return None
    sigma, kappa = max(b / a, 0.0), max(c / a, 0.0)
    fit = UslFit(1 / a, sigma, kappa, 0.0, len(usable))
    predicted = np.array([fit.throughput(users) for users in n])
    error = float(np.sqrt(np.mean(((predicted - x) / x) ** 2)))
    return UslFit(fit.lam, sigma, kappa, error, len(usable))
