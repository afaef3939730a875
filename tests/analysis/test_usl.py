from __future__ import annotations

import math

import pytest

from chatload.analysis.usl import fit_usl


def _usl(n: float, lam: float = 2.0, sigma: float = 0.05, kappa: float = 1e-4) -> float:
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def test_the_fit_finds_the_law_it_was_drawn_from() -> None:
    points = [(n, _usl(n)) for n in (10, 20, 40, 80, 160, 120, 100)]
    fit = fit_usl(points)
    assert fit is not None
    assert fit.sigma == pytest.approx(0.05, rel=1e-6)
    assert fit.kappa == pytest.approx(1e-4, rel=1e-6)
    assert fit.lam == pytest.approx(2.0, rel=1e-6)
    assert fit.peak_users == pytest.approx(math.sqrt(0.95 / 1e-4))
    assert fit.error < 1e-9
    assert "sigma = 0.0500" in fit.text() and "peak 97 users" in fit.text()


def test_noise_shows_in_the_error_and_linear_growth_has_no_peak() -> None:
    noisy = [(n, _usl(n) * (1.05 if i % 2 else 0.95)) for i, n in enumerate((10, 20, 40, 80))]
    fit = fit_usl(noisy)
    assert fit is not None and 0.02 < fit.error < 0.1
    linear = fit_usl([(n, 0.5 * n) for n in (5, 10, 20, 40)])
    assert linear is not None and math.isinf(linear.peak_users)


def test_too_few_levels_are_no_fit() -> None:
    assert fit_usl([(10, 5.0), (20, 9.0), (40, 15.0)]) is None
    assert fit_usl([(10, 5.0), (10, 5.1), (20, 9.0), (40, 15.0)]) is None
