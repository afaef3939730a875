"""Made-up histories of one figure: noise of a known kind, steps where planted."""

from __future__ import annotations

from typing import Final

import numpy as np

KINDS: Final = ("cv3", "cv10", "lognormal", "t3", "outliers", "ar1")


def noisy(kind: str, rng: np.random.Generator, runs: int, level: float = 100.0) -> np.ndarray:
    """``runs`` values around ``level`` with no change."""
    if kind == "cv3":
        factor = 1 + rng.normal(0, 0.03, runs)
    elif kind == "cv10":
        factor = 1 + rng.normal(0, 0.10, runs)
    elif kind == "lognormal":  # a long right tail, as a p99's
        factor = rng.lognormal(0, 0.10, runs)
    elif kind == "t3":  # heavy tails both ways: Student's t with 3 degrees of freedom
        factor = np.exp(0.05 * rng.standard_t(3, runs) / np.sqrt(3))
    elif kind == "outliers":  # 1 % of runs three times slower
        factor = np.exp(rng.normal(0, 0.05, runs))
        factor[rng.random(runs) < 0.01] *= 3
    elif kind == "ar1":  # each run follows the one before (rho 0.3)
        shocks = rng.normal(0, 0.05 * np.sqrt(1 - 0.3**2), runs)
        walk = np.empty(runs)
        walk[0] = rng.normal(0, 0.05)
        for i in range(1, runs):
            walk[i] = 0.3 * walk[i - 1] + shocks[i]
        factor = np.exp(walk)
    else:
        raise ValueError(kind)
    return np.asarray(level * factor, dtype=np.float64)


def stepped(
    rng: np.random.Generator, runs: int, steps: dict[int, float], cv: float = 0.03
) -> np.ndarray:
    """CV-``cv`` noise with the level multiplied by 1 + change from each step's run on."""
    values = noisy("cv3", rng, runs) if cv == 0.03 else 100 * (1 + rng.normal(0, cv, runs))
    for at, change in steps.items():
        values[at:] *= 1 + change
    return values
