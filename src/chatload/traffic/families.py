"""The distribution families a traffic model's quantities take. Pure: parameters in,
draws and probabilities out.

Each quantity of a model is one :class:`Family`: a name and its parameters, as the
model file writes them. A person's decision draws from it with the standard
library's ``random`` (microseconds, on the generator's hot path); the fit and the
proof ask for its CDF over many values at once (numpy and scipy, on the master).

- ``lognormal``: ``mu``, ``sigma`` of the logarithm;
- ``lognormal_mixture``: weight ``w`` of the first of two lognormals ``mu1``,
  ``sigma1`` and ``mu2``, ``sigma2`` (quick back-and-forth and replies hours later);
- ``weibull``: ``shape`` k and ``scale`` lambda;
- ``gamma``: ``shape`` k and ``scale`` theta;
- ``exponential``: ``scale`` (the mean);
- ``empirical``: ``values`` at the probabilities ``probabilities`` (from 0 to 1,
  increasing), linear in between: the fallback when no family fits.

A count (messages in a burst, photos, pages, characters) is drawn as a continuous
value rounded up (:meth:`Family.count`); fitted on counts less a uniform fraction
(dequantized), so that rounding up gives the counts back.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Final

import numpy as np

from chatload.errors import ConfigError

__all__ = ["FAMILIES", "Family"]

_PARAMETERS: Final = {
    "lognormal": ("mu", "sigma"),
    "lognormal_mixture": ("w", "mu1", "sigma1", "mu2", "sigma2"),
    "weibull": ("shape", "scale"),
    "gamma": ("shape", "scale"),
    "exponential": ("scale",),
    "empirical": (),
}
FAMILIES: Final = tuple(_PARAMETERS)


@dataclass(frozen=True)
class Family:
    name: str
    params: Mapping[str, float] = field(default_factory=dict)
    probabilities: tuple[float, ...] = ()  # empirical only
    values: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise ConfigError(f"{self.name}: {problem}")

    def _problem(self) -> str | None:
        wanted = _PARAMETERS.get(self.name)
        if wanted is None:
            return f"not a family (one of {', '.join(FAMILIES)})"
        if set(self.params) != set(wanted):
            return f"needs the parameters {', '.join(wanted) or 'none'}, got {sorted(self.params)}"
        if self.name == "empirical":
            return _empirical_problem(self.probabilities, self.values)
        return _parameters_problem(self.params)

    # A person's draws (the standard library: no numpy on the hot path)

    def draw(self, rng: random.Random) -> float:
        if self.name == "empirical":
            return self.quantile(rng.random())
        return _DRAWS[self.name](rng, self.params)

    def count(self, rng: random.Random, least: int = 1) -> int:
        """A count: a draw rounded up, at least ``least``."""
        return max(least, math.ceil(self.draw(rng)))

    def quantile(self, q: float) -> float:
        if self.name == "lognormal":  # no scipy on a generator's path
            return math.exp(self.params["mu"] + self.params["sigma"] * _NORMAL.inv_cdf(q))
        if self.name == "empirical":
            return float(np.interp(q, self.probabilities, self.values))
        return float(self.ppf(np.array([q]))[0])

    # Many values at once (the fit and the proof)

    def _frozen(self) -> Any:
        from scipy import stats

        p = self.params
        if self.name == "lognormal":
            return stats.lognorm(s=p["sigma"], scale=math.exp(p["mu"]))
        if self.name == "weibull":
            return stats.weibull_min(p["shape"], scale=p["scale"])
        if self.name == "gamma":
            return stats.gamma(p["shape"], scale=p["scale"])
        return stats.expon(scale=p["scale"])

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.name == "empirical":
            return np.asarray(
                np.interp(x, self.values, self.probabilities, left=0.0, right=1.0), dtype=float
            )
        # In closed form, not through scipy.stats' frozen distributions: a count's fit
        # asks for thousands of CDFs, and freezing one cost more than computing it.
        from scipy import special

        p, positive = self.params, np.maximum(x, 1e-300)
        with np.errstate(divide="ignore", over="ignore"):
            if self.name == "lognormal":
                cdf = special.ndtr((np.log(positive) - p["mu"]) / p["sigma"])
            elif self.name == "lognormal_mixture":
                logs = np.log(positive)
                first = special.ndtr((logs - p["mu1"]) / p["sigma1"])
                second = special.ndtr((logs - p["mu2"]) / p["sigma2"])
                cdf = p["w"] * first + (1 - p["w"]) * second
            elif self.name == "weibull":
                cdf = -np.expm1(-((positive / p["scale"]) ** p["shape"]))
            elif self.name == "gamma":
                cdf = special.gammainc(p["shape"], positive / p["scale"])
            else:
                cdf = -np.expm1(-positive / p["scale"])
        return np.asarray(np.where(x > 0, cdf, 0.0), dtype=float)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        if self.name == "empirical":
            return np.asarray(np.interp(q, self.probabilities, self.values), dtype=float)
        if self.name == "lognormal_mixture":
            return _mixture_ppf(self, q)
        return np.asarray(self._frozen().ppf(q), dtype=float)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log densities (for the likelihood the fit compares families by)."""
        from scipy import stats

        x = np.asarray(x, dtype=float)
        p = self.params
        if self.name == "lognormal_mixture":
            first = stats.lognorm.logpdf(x, s=p["sigma1"], scale=math.exp(p["mu1"]))
            second = stats.lognorm.logpdf(x, s=p["sigma2"], scale=math.exp(p["mu2"]))
            return np.asarray(np.logaddexp(math.log(p["w"]) + first, math.log(1 - p["w"]) + second))
        if self.name == "empirical":
            raise ValueError("an empirical family has no likelihood to compare")
        return np.asarray(self._frozen().logpdf(x), dtype=float)

    def mean(self) -> float:
        p = self.params
        if self.name == "lognormal":
            return math.exp(p["mu"] + p["sigma"] ** 2 / 2)
        if self.name == "lognormal_mixture":
            first = math.exp(p["mu1"] + p["sigma1"] ** 2 / 2)
            return p["w"] * first + (1 - p["w"]) * math.exp(p["mu2"] + p["sigma2"] ** 2 / 2)
        if self.name == "weibull":
            return p["scale"] * math.gamma(1 + 1 / p["shape"])
        if self.name == "gamma":
            return p["shape"] * p["scale"]
        if self.name == "exponential":
            return p["scale"]
        grid = np.linspace(0, 1, 2001)
        return float(np.mean(np.interp(grid, self.probabilities, self.values)))

    def scaled(self, factor: float) -> Family:
        """The same shape, every value multiplied by ``factor`` (a time scale)."""
        p = dict(self.params)
        if self.name == "lognormal":
            p["mu"] += math.log(factor)
        elif self.name == "lognormal_mixture":
            p["mu1"] += math.log(factor)
            p["mu2"] += math.log(factor)
        elif self.name != "empirical":
            p["scale"] *= factor
        values = tuple(v * factor for v in self.values)
        return Family(self.name, p, self.probabilities, values)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"family": self.name}
        out.update({k: round(float(v), 10) for k, v in self.params.items()})
        if self.name == "empirical":
            out["probabilities"] = list(self.probabilities)
            out["values"] = list(self.values)
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> Family:
        if not isinstance(data, dict) or "family" not in data:
            raise ConfigError(f"{where}: expected an object with a 'family'")
        name = data["family"]
        extra = {k: v for k, v in data.items() if k not in ("family", "probabilities", "values")}
        try:
            params = {k: float(v) for k, v in extra.items()}
            probabilities = tuple(float(v) for v in data.get("probabilities", ()))
            values = tuple(float(v) for v in data.get("values", ()))
            return cls(str(name), params, probabilities, values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: numbers expected ({exc})") from None
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


_NORMAL: Final = NormalDist()
_DRAWS: Final[dict[str, Callable[[random.Random, Mapping[str, float]], float]]] = {
    "lognormal": lambda rng, p: rng.lognormvariate(p["mu"], p["sigma"]),
    "lognormal_mixture": lambda rng, p: (
        rng.lognormvariate(p["mu1"], p["sigma1"])
        if rng.random() < p["w"]
        else rng.lognormvariate(p["mu2"], p["sigma2"])
    ),
    "weibull": lambda rng, p: rng.weibullvariate(p["scale"], p["shape"]),
    "gamma": lambda rng, p: rng.gammavariate(p["shape"], p["scale"]),
    "exponential": lambda rng, p: rng.expovariate(1.0 / p["scale"]),
}


def _parameters_problem(params: Mapping[str, float]) -> str | None:
    if not all(math.isfinite(v) for v in params.values()):
        return "parameters must be finite numbers"
    positive = [k for k in ("sigma", "sigma1", "sigma2", "shape", "scale") if k in params]
    if any(params[k] <= 0 for k in positive):
        return f"{', '.join(positive)} must be positive"
    if "w" in params and not 0 < params["w"] < 1:
        return "w must be within 0..1"
    return None


def _empirical_problem(probabilities: tuple[float, ...], values: tuple[float, ...]) -> str | None:
    if len(probabilities) < 2 or len(probabilities) != len(values):
        return "needs as many probabilities as values, at least two"
    if probabilities[0] != 0 or probabilities[-1] != 1:
        return "probabilities must run from 0 to 1"
    if any(b <= a for a, b in itertools.pairwise(probabilities)):
        return "probabilities must increase"
    if any(b < a for a, b in itertools.pairwise(values)):
        return "values must not decrease"
    if not all(math.isfinite(v) for v in (*probabilities, *values)):
        return "probabilities and values must be finite numbers"
    return None


def _mixture_ppf(family: Family, q: np.ndarray) -> np.ndarray:
    """The mixture's quantiles by bisection in log space (its CDF is monotone)."""
    p = family.params
    low = np.full(q.shape, min(p["mu1"] - 12 * p["sigma1"], p["mu2"] - 12 * p["sigma2"]))
    high = np.full(q.shape, max(p["mu1"] + 12 * p["sigma1"], p["mu2"] + 12 * p["sigma2"]))
    for _ in range(80):
        middle = (low + high) / 2
        below = family.cdf(np.exp(middle)) < q
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    return np.asarray(np.exp((low + high) / 2))
