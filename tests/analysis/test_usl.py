from __future__ import annotations

import math

import numpy as np
import pytest

from chatload.analysis import usl
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


def _solving_to(monkeypatch: pytest.MonkeyPatch, exact: list[float]) -> None:
    """Least squares that returns ``exact`` (trimmed to the columns asked for), as a
    BLAS kernel's rounding would leave it: the judgement is then the same on every
    processor."""

    def solve(design: np.ndarray, y: np.ndarray) -> np.ndarray:
        if design.shape[1] == len(exact):
            return np.array(exact)
        return np.asarray(np.linalg.lstsq(design, y, rcond=None)[0])

    monkeypatch.setattr(usl, "_least_squares", solve)


@pytest.mark.parametrize("residue", [1e-19, -1e-19, 2.4e-19])
def test_rounding_residue_in_kappa_is_no_peak(
    monkeypatch: pytest.MonkeyPatch, residue: float
) -> None:
    # N/X = 2 exactly for X = 0.5 N: a = 2, b = c = 0, c off by the residue alone.
    _solving_to(monkeypatch, [2.0, 0.0, residue])
    fit = fit_usl([(n, 0.5 * n) for n in (5, 10, 20, 40)])
    assert fit is not None
    assert fit.kappa == 0 and fit.sigma == 0 and fit.lam == 0.5
    assert math.isinf(fit.peak_users) and math.isinf(fit.peak_throughput)
    assert "no peak (kappa 0), throughput unbounded (sigma 0)" in fit.text()


@pytest.mark.parametrize("residue", [1.3e-16, -1.3e-16])
def test_rounding_residue_in_sigma_is_no_ceiling(
    monkeypatch: pytest.MonkeyPatch, residue: float
) -> None:
    # The Haswell kernel left b = 1.3e-16 here: a ceiling of lam/sigma = 4e15 messages/s.
    _solving_to(monkeypatch, [2.0, residue, 0.0])
    fit = fit_usl([(n, 0.5 * n) for n in (5, 10, 20, 40)])
    assert fit is not None and fit.sigma == 0 and math.isinf(fit.peak_throughput)


def test_a_real_small_kappa_is_a_real_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    # kappa 1e-6 peaks at sqrt(0.95 / 1e-6) = 975 users, inside the levels measured.
    _solving_to(monkeypatch, [0.5, 0.025, 5e-7])
    points = [(n, _usl(n, kappa=1e-6)) for n in (100, 200, 400, 800, 1600)]
    fit = fit_usl(points)
    assert fit is not None
    assert fit.kappa == pytest.approx(1e-6, rel=1e-12)
    assert fit.sigma == pytest.approx(0.05, rel=1e-12)
    assert fit.peak_users == pytest.approx(math.sqrt(0.95 / 1e-6), rel=1e-9)
    assert "peak 975 users" in fit.text()


def test_coefficients_the_levels_do_not_show_are_dropped_one_at_a_time() -> None:
    # Four noisy levels cannot tell sigma from kappa, but they plainly bend: the fit
    # keeps the one that explains most (sigma) rather than falling back to a line.
    noisy = [(n, _usl(n) * (1.05 if i % 2 else 0.95)) for i, n in enumerate((10, 20, 40, 80))]
    fit = fit_usl(noisy)
    assert fit is not None and fit.kappa == 0 and 0.04 < fit.sigma < 0.07
