"""Families fitted to samples by maximum likelihood, the family chosen by AIC.

Each candidate (lognormal, a mixture of two lognormals, Weibull, gamma,
exponential) is fitted by maximum likelihood on the unbinned samples (binned data
can make a lognormal look like a power law: Blenn and Van Mieghem 2016): the
lognormal in closed form, the mixture by expectation-maximisation on the logarithms,
Weibull and gamma by scipy.stats, the exponential by its mean. The family with the
lowest AIC (2k - 2 log L) is chosen; when even it is farther than ``FALLBACK_D``
from the samples (the Kolmogorov-Smirnov distance), the samples' own quantiles are
the model (``empirical``). A family with more parameters is chosen only when its AIC
is lower by more than ``AIC_MARGIN``.

Counts (characters, photos, pages, messages per burst) are drawn as a continuous
value rounded up, so a count n has the probability F(n) - F(n - 1): each family is
fitted to counts by that exact likelihood (Nelder-Mead over the distinct counts,
started from a fit to the counts spread over (n - 1, n]).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from chatload.traffic.families import Family
from chatload.traffic.survival import kaplan_meier

__all__ = ["Fit", "dequantized", "fit_censored", "fit_samples", "fit_weights", "ks_distance"]

_COUNT_FAMILIES: Final = ("lognormal", "weibull", "gamma", "exponential")

FALLBACK_D: Final = 0.03
# A family needs an AIC this much lower to count as better than a simpler one
# (Burnham and Anderson 2002: a difference under 10 is weak evidence).
AIC_MARGIN: Final = 10.0
_LIKELIHOOD_SAMPLES: Final = 200_000  # more are subsampled for the iterative fits
_EM_START_SAMPLES: Final = 20_000
_CENSORED_SAMPLES: Final = 20_000  # the censored refits' likelihood is iterative in all
_EMPIRICAL_POINTS: Final = 101


@dataclass(frozen=True)
class Fit:
    family: Family
    n: int
    d: float  # Kolmogorov-Smirnov distance to the samples
    aic: dict[str, float]  # each candidate's AIC (inf: could not be fitted)


def dequantized(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A count n as a value spread over (n - 1, n]: rounding up gives n back."""
    counts = np.asarray(counts, dtype=float)
    return np.asarray(counts - rng.uniform(0.0, 1.0, len(counts)) * (counts > 0))


def ks_distance(samples: np.ndarray, family: Family, *, discrete: bool = False) -> float:
    """The largest distance between the samples' CDF and the family's; for counts,
    at the counts only (the model rounds up)."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = len(x)
    if not n:
        return math.nan
    if discrete:
        values, counts = np.unique(x, return_counts=True)
        empirical = np.cumsum(counts) / n
        model = family.cdf(values)
        below = np.concatenate([[0.0], empirical[:-1]])
        model_below = family.cdf(values - 1)
        return float(max(np.max(np.abs(empirical - model)), np.max(np.abs(below - model_below))))
    model = family.cdf(x)
    above = np.arange(1, n + 1) / n
    below = np.arange(0, n) / n
    return float(max(np.max(above - model), np.max(model - below)))


def _lognormal(x: np.ndarray) -> Family:
    logs = np.log(x)
    return Family("lognormal", {"mu": float(logs.mean()), "sigma": max(float(logs.std()), 1e-6)})


def _em(
    logs: np.ndarray, w: float, mu: np.ndarray, sigma: np.ndarray, steps: int = 500
) -> tuple[float, np.ndarray, np.ndarray]:
    previous = -math.inf
    for _ in range(steps):
        densities = np.stack(
            [
                np.log(w) - np.log(sigma[0]) - 0.5 * ((logs - mu[0]) / sigma[0]) ** 2,
                np.log(1 - w) - np.log(sigma[1]) - 0.5 * ((logs - mu[1]) / sigma[1]) ** 2,
            ]
        )
        total = np.logaddexp(densities[0], densities[1])
        likelihood = float(total.sum())
        first = np.exp(densities[0] - total)
        w = float(np.clip(first.mean(), 1e-4, 1 - 1e-4))
        weights = np.stack([first, 1 - first])
        mass = weights.sum(axis=1)
        mu = (weights @ logs) / mass
        sigma = np.sqrt(np.maximum((weights * (logs - mu[:, None]) ** 2).sum(axis=1) / mass, 1e-8))
        if likelihood - previous < 1e-7 * abs(likelihood):
            break
        previous = likelihood
    return w, mu, sigma


def _mixture(x: np.ndarray) -> Family:
    """Two Gaussians in log space by EM, started at the lower and upper thirds. On many
    values, first to convergence on a seeded 20,000 of them, then at most 10 steps on
    all: a real mixture converges in a few; on one lognormal EM crawls along a flat
    likelihood for hundreds (0.8 s at 200,000), where AIC prefers the lognormal anyway."""
    logs = np.log(x)
    low, high = np.quantile(logs, [1 / 6, 5 / 6])
    spread = max(float(logs.std()) / 2, 1e-3)
    w, mu, sigma = 0.5, np.array([low, high]), np.array([spread, spread])
    if len(logs) > 4 * _EM_START_SAMPLES:
        start = np.random.default_rng(0).choice(logs, _EM_START_SAMPLES, replace=False)
        w, mu, sigma = _em(start, w, mu, sigma)
        w, mu, sigma = _em(logs, w, mu, sigma, steps=10)
    else:
        w, mu, sigma = _em(logs, w, mu, sigma)
    if mu[0] > mu[1]:  # the first component is the quick one
        w, mu, sigma = 1 - w, mu[::-1], sigma[::-1]
    return Family(
        "lognormal_mixture",
        {
            "w": w,
            "mu1": float(mu[0]),
            "sigma1": float(sigma[0]),
            "mu2": float(mu[1]),
            "sigma2": float(sigma[1]),
        },
    )


def _scipy(name: str, x: np.ndarray) -> Family:
    from scipy import stats

    distribution = stats.weibull_min if name == "weibull" else stats.gamma
    shape, _, scale = distribution.fit(x, floc=0)
    return Family(name, {"shape": float(shape), "scale": float(scale)})


def _parsimonious(aic: dict[str, float], families: dict[str, Family]) -> str:
    """The simplest family within ``AIC_MARGIN`` of the lowest AIC."""
    lowest = min(aic.values())
    near = [name for name, value in aic.items() if value <= lowest + AIC_MARGIN]
    return min(near, key=lambda name: (len(families[name].params), aic[name]))


def _candidates(x: np.ndarray, fitting: np.ndarray) -> dict[str, Family]:
    found: dict[str, Family] = {"lognormal": _lognormal(x)}
    for name, fit in (
        ("lognormal_mixture", _mixture),
        ("weibull", lambda v: _scipy("weibull", v)),
        ("gamma", lambda v: _scipy("gamma", v)),
    ):
        try:
            found[name] = fit(fitting)
        except (ValueError, FloatingPointError, RuntimeError):
            continue
    found["exponential"] = Family("exponential", {"scale": float(x.mean())})
    return found


def _count_likelihood(family: Family, values: np.ndarray, weights: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        mass = family.cdf(values) - family.cdf(values - 1)
        return float(np.sum(weights * np.log(np.maximum(mass, 1e-300))))


def _refit(
    family: Family,
    log_likelihood: Callable[[Family], float],
    admissible: Callable[[Family], bool] = lambda _: True,
) -> Family:
    """The ``admissible`` parameters of the family that maximise ``log_likelihood``,
    from its own."""
    from scipy import optimize

    names = list(family.params)
    logged = [name for name in names if name != "w" and not name.startswith("mu")]

    def unpack(point: np.ndarray) -> Family | None:
        params = {}
        for name, value in zip(names, point, strict=True):
            if name == "w":
                params[name] = float(1 / (1 + np.exp(-value)))
            else:
                params[name] = float(np.exp(value)) if name in logged else float(value)
        try:
            candidate = Family(family.name, params)
        except Exception:
            return None
        return candidate if admissible(candidate) else None

    def cost(point: np.ndarray) -> float:
        candidate = unpack(point)
        return math.inf if candidate is None else -log_likelihood(candidate)

    start = [
        math.log(v / (1 - v)) if n == "w" else math.log(v) if n in logged else v
        for n, v in family.params.items()
    ]
    best = optimize.minimize(
        cost,
        np.array(start),
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000},
    )
    fitted = unpack(best.x)
    return fitted if fitted is not None else family


def _refit_counts(family: Family, values: np.ndarray, weights: np.ndarray) -> Family:
    """The family's parameters that maximise the likelihood of the counts."""
    return _refit(family, lambda candidate: _count_likelihood(candidate, values, weights))


def _censored_likelihood(family: Family, exact: np.ndarray, beyond: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        survival = 1 - family.cdf(beyond)
        log_likelihood = float(np.sum(family.logpdf(exact)))
        return log_likelihood + float(np.sum(np.log(np.maximum(survival, 1e-300))))


def _no_spike(family: Family) -> bool:
    """A mixture's component is a real one: a likelihood of exact values grows without
    bound on a component of no width at one of them (a classic degeneracy)."""
    params = family.params
    widths = [value for name, value in params.items() if name.startswith("sigma")]
    return min(widths, default=1.0) >= 0.01 and 0.01 <= params.get("w", 0.5) <= 0.99


def fit_censored(exact: np.ndarray, beyond: np.ndarray, *, seed: int = 0) -> Fit:
    """The family that fits times some of which are known only to exceed ``beyond``
    (right-censored): each candidate, started from its fit to the exact values, is
    refitted to the censored likelihood (the density at each exact value, the
    survival beyond each censored one), on at most ``_CENSORED_SAMPLES`` of them;
    the family is chosen by AIC on them all. D is the distance to their Kaplan-Meier
    estimate. No empirical fallback: past the censoring the samples' quantiles are
    not known."""
    rng = np.random.default_rng(seed)
    exact, beyond = np.asarray(exact, dtype=float), np.asarray(beyond, dtype=float)
    exact = exact[np.isfinite(exact) & (exact > 0)]
    beyond = beyond[np.isfinite(beyond) & (beyond > 0)]  # beyond 0 tells nothing
    if not len(beyond):
        return fit_samples(exact, seed=seed)
    if len(exact) < 2:
        raise ValueError("too few samples to fit")
    share = min(1.0, _CENSORED_SAMPLES / (len(exact) + len(beyond)))
    some_exact = exact if share == 1 else rng.choice(exact, max(2, round(len(exact) * share)))
    some_beyond = beyond if share == 1 else rng.choice(beyond, round(len(beyond) * share))
    aic: dict[str, float] = {}
    fitted: dict[str, Family] = {}
    for name, start in _candidates(some_exact, some_exact).items():
        refitted = _refit(
            start, lambda f: _censored_likelihood(f, some_exact, some_beyond), _no_spike
        )
        log_likelihood = _censored_likelihood(refitted, exact, beyond)
        if math.isfinite(log_likelihood):
            fitted[name] = refitted
            aic[name] = 2 * len(refitted.params) - 2 * log_likelihood
    family = fitted[_parsimonious(aic, fitted)]
    return Fit(family, len(exact) + len(beyond), kaplan_meier(exact, beyond).distance(family), aic)


def fit_samples(samples: np.ndarray, *, seed: int = 0, discrete: bool = False) -> Fit:
    """The family that fits ``samples`` best (positive values), by AIC."""
    rng = np.random.default_rng(seed)
    x = np.asarray(samples, dtype=float)
    if discrete:
        return _fit_counts(x[np.isfinite(x) & (x >= 1)], rng)
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) < 2:
        raise ValueError("too few samples to fit")
    fitting = x if len(x) <= _LIKELIHOOD_SAMPLES else rng.choice(x, _LIKELIHOOD_SAMPLES)
    aic: dict[str, float] = {}
    families = _candidates(x, fitting)
    with np.errstate(all="ignore"):
        for name, family in families.items():
            log_likelihood = float(np.sum(family.logpdf(x)))
            k = len(family.params)
            aic[name] = 2 * k - 2 * log_likelihood if math.isfinite(log_likelihood) else math.inf
    best = _parsimonious(aic, families)
    family = families[best]
    d = ks_distance(np.ceil(x) if discrete else x, family, discrete=discrete)
    if d > FALLBACK_D and len(x) >= 100:
        probabilities = np.linspace(0, 1, _EMPIRICAL_POINTS)
        values = np.quantile(x, probabilities)
        family = Family("empirical", {}, tuple(probabilities.tolist()), tuple(values.tolist()))
        d = ks_distance(np.ceil(x) if discrete else x, family, discrete=discrete)
        aic["empirical"] = math.nan
    return Fit(family, len(x), d, aic)


def _fit_counts(counts: np.ndarray, rng: np.random.Generator) -> Fit:
    if len(counts) < 2:
        raise ValueError("too few samples to fit")
    spread = dequantized(counts, rng)
    spread = spread[spread > 0]
    values, weights = np.unique(counts, return_counts=True)
    fitting = (
        spread if len(spread) <= _LIKELIHOOD_SAMPLES else rng.choice(spread, _LIKELIHOOD_SAMPLES)
    )
    aic: dict[str, float] = {}
    fitted: dict[str, Family] = {}
    for name, start in _candidates(spread, fitting).items():
        if name not in _COUNT_FAMILIES:
            continue
        refitted = _refit_counts(start, values, weights.astype(float))
        fitted[name] = refitted
        log_likelihood = _count_likelihood(refitted, values, weights.astype(float))
        aic[name] = 2 * len(refitted.params) - 2 * log_likelihood
    best = _parsimonious(aic, fitted)
    family = fitted[best]
    d = ks_distance(counts, family, discrete=True)
    if d > FALLBACK_D and len(counts) >= 100:
        probabilities = np.linspace(0, 1, _EMPIRICAL_POINTS)
        quantiles = np.quantile(spread, probabilities)
        family = Family("empirical", {}, tuple(probabilities.tolist()), tuple(quantiles.tolist()))
        d = ks_distance(counts, family, discrete=True)
        aic["empirical"] = math.nan
    return Fit(family, len(counts), d, aic)


def _poisson_lognormal(counts: np.ndarray, expected: np.ndarray, sigma: float) -> np.ndarray:
    """P(k) for each person when k ~ Poisson(expected * w), w lognormal of mean 1."""
    from scipy import special

    nodes, weights = np.polynomial.hermite_e.hermegauss(48)
    w = np.exp(-(sigma**2) / 2 + sigma * nodes)  # the weight at each node
    lam = np.maximum(expected[:, None] * w[None, :], 1e-300)
    k = counts[:, None]
    log_p = k * np.log(lam) - lam - special.gammaln(k + 1)
    return np.asarray(np.exp(log_p) @ (weights / weights.sum()))


def fit_weights(counts: np.ndarray, hours: np.ndarray | None = None) -> tuple[Fit, float]:
    """People's activity weights (lognormal, mean 1) and the rate per hour of weight 1,
    from what each did (bursts started, zeros included) in their ``hours`` online:
    each count is Poisson around rate x hours x weight, so rate and sigma are fitted
    to the counts' own likelihood, noise and all, not to the noisy counts themselves.
    Without hours, everyone's are taken as equal (the rate is then per person)."""
    from scipy import optimize

    counts = np.asarray(counts, dtype=float)
    exposure = np.ones(len(counts)) if hours is None else np.asarray(hours, dtype=float)
    keep = exposure > 0
    counts, exposure = counts[keep], exposure[keep]
    if len(counts) < 2 or counts.sum() <= 0:
        raise ValueError("too few samples to fit")
    start_rate = float(counts.sum() / exposure.sum())

    def cost(point: np.ndarray) -> float:
        rate, sigma = float(np.exp(point[0])), float(np.exp(point[1]))
        p = _poisson_lognormal(counts, rate * exposure, sigma)
        return -float(np.sum(np.log(np.maximum(p, 1e-300))))

    best = optimize.minimize(
        cost,
        np.array([math.log(start_rate), math.log(0.8)]),
        method="Nelder-Mead",
        options={"xatol": 1e-5, "fatol": 1e-7, "maxiter": 2000},
    )
    rate, sigma = float(np.exp(best.x[0])), float(np.exp(best.x[1]))
    family = Family("lognormal", {"mu": -(sigma**2) / 2, "sigma": sigma})
    # D: the counts' CDF against the predicted one (each person's mixture, averaged)
    grid = np.arange(int(counts.max()) + 1, dtype=float)
    predicted = np.zeros(len(grid))
    for expected in np.quantile(rate * exposure, np.linspace(0.005, 0.995, 100)):
        predicted += np.cumsum(_poisson_lognormal(grid, np.full(len(grid), expected), sigma))
    predicted /= 100
    empirical = np.searchsorted(np.sort(counts), grid, side="right") / len(counts)
    d = float(np.max(np.abs(empirical - predicted)))
    return Fit(family, len(counts), d, {"lognormal": 4 + 2 * float(best.fun)}), rate
