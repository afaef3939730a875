"""A run's traffic against its model: the rows of ``PREFIX_traffic.csv``. Pure.

Each quantity of each role: the run's samples (``traffic.observe`` on the traffic
the run generated, in the model's time) against the model's family, by the
Kolmogorov-Smirnov distance D: an effect size, not a p-value (with many samples
every difference is "significant"). A run cannot show a gap longer than itself:
every quantity is compared below a horizon ``h`` (a third of the run's span, at
most the burst gap), over the values whose whole range fell inside the run (those
that began ``h`` or more before its end), against the model's distribution below
``h`` (its CDF over its CDF at ``h``). Counts are compared at the counts.

``verdict``: ``matches`` (D <= ``MAX_D``), ``differs`` (D > ``MAX_D`` with at least
``ENOUGH`` samples, so that chance alone rarely gives it: the 99 % KS critical value
at 1,000 samples is 0.05) or ``too few samples``. Rates and shares are rows too,
their D the absolute difference. Arrivals are judged by the time-rescaling theorem:
the own arrivals' gaps, each measured in the model's expected arrivals, are
exponential of mean 1 when the process is the model's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from chatload.traffic.arrivals import ArrivalClock
from chatload.traffic.families import Family
from chatload.traffic.fit import COUNTS
from chatload.traffic.fitting import ks_distance
from chatload.traffic.model import QUANTITIES, TrafficModel
from chatload.traffic.observe import Export, observe
from chatload.users_file import ROLES, Role

__all__ = ["ENOUGH", "MAX_D", "TRAFFIC_COLUMNS", "TrafficRow", "compare_traffic"]

MAX_D: Final = 0.05
ENOUGH: Final = 1000
TRAFFIC_COLUMNS: Final = (
    "quantity",
    "family",
    "n",
    "D",
    "model_p50",
    "run_p50",
    "model_p90",
    "run_p90",
    "model_p99",
    "run_p99",
    "verdict",
)
_SHARES: Final = (0.5, 0.9, 0.99)
Triple = tuple[float, float, float]
_NONE: Final[Triple] = (math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class TrafficRow:
    quantity: str
    family: str
    n: int
    d: float
    model: Triple  # p50, p90, p99
    run: Triple

    @property
    def verdict(self) -> str:
        if math.isnan(self.d) or (self.n < ENOUGH and self.family not in ("rate", "share")):
            return "too few samples" if self.d <= MAX_D or math.isnan(self.d) else "differs?"
        return "matches" if self.d <= MAX_D else "differs"

    def row(self) -> list[str]:
        return [
            self.quantity,
            self.family,
            str(self.n),
            "" if math.isnan(self.d) else f"{self.d:.4f}",
            *(_number(v) for pair in zip(self.model, self.run, strict=True) for v in pair),
            self.verdict,
        ]


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def _truncated(family: Family, cut: float, discrete: bool) -> tuple[Family, float]:
    """The family below ``cut`` as an empirical one (for D and its percentiles)."""
    top = float(family.cdf(np.array([cut]))[0]) if math.isfinite(cut) else 1.0
    if top >= 1 - 1e-12:
        return family, 1.0
    probabilities = np.linspace(0, 1, 401)
    values = family.ppf(np.clip(probabilities * top, 1e-9, top - 1e-12))
    if discrete:
        values = np.ceil(values)
    values = np.maximum.accumulate(values)
    return Family("empirical", {}, tuple(probabilities.tolist()), tuple(values.tolist())), top


def _quantity_row(name: str, family: Family, samples: np.ndarray, cut: float) -> TrafficRow:
    discrete = name.split(".", 1)[1] in COUNTS
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples) & (samples <= cut)]
    model, _ = _truncated(family, cut, discrete)
    quantiles = model.ppf(np.array(_SHARES))
    model_quantiles = _triple(np.ceil(quantiles) if discrete else quantiles)
    if not len(samples):
        return TrafficRow(name, family.name, 0, math.nan, model_quantiles, _NONE)
    d = ks_distance(samples, model, discrete=discrete)
    run = _triple(np.quantile(samples, _SHARES))
    return TrafficRow(name, family.name, len(samples), d, model_quantiles, run)


def _triple(values: np.ndarray) -> Triple:
    return float(values[0]), float(values[1]), float(values[2])


def _arrival_row(
    role: Role, model: TrafficModel, times: np.ndarray, people: int, start: float
) -> TrafficRow:
    """Time rescaling: the gaps between own arrivals in units of expected arrivals."""
    unit = Family("exponential", {"scale": 1.0})
    expected = _triple(unit.ppf(np.array(_SHARES)))
    times = np.sort(times)
    name = f"{role}.arrivals"
    if len(times) < 2 or people <= 0:
        return TrafficRow(name, "poisson", len(times), math.nan, expected, _NONE)
    clock = ArrivalClock(model.role(role), people)
    day = start - start % 86400
    scaled = np.array([clock.expected(0.0, t - day) for t in times])
    gaps = np.diff(scaled)
    d = ks_distance(gaps, unit)
    return TrafficRow(name, "poisson", len(gaps), d, expected, _triple(np.quantile(gaps, _SHARES)))


def compare_traffic(model: TrafficModel, export: Export) -> list[TrafficRow]:
    """Every quantity of the run's traffic against ``model``, in the model's time."""
    span = max(export.end - export.start, 0.0)
    horizon = min(span / 3, model.burst_gap_s)
    observed = observe(export, model.burst_gap_s, horizon=horizon)
    rows: list[TrafficRow] = []
    for role in ROLES:
        role_model = model.role(role)
        people = export.people.get(role, 0)
        rows.append(_arrival_row(role, model, observed.arrival_times[role], people, export.start))
        for _, name in QUANTITIES:
            if name in ("weight", "burst_size"):
                continue  # a weight is not seen; burst sizes are compared with the turns
            samples = observed.samples[role].get(name, np.array([]))
            rows.append(_quantity_row(f"{role}.{name}", role_model.family(name), samples, horizon))
        turns = observed.turns[role]
        total = max(sum(turns.values()), 1)
        for key, scalar in (("same", "next_same"), ("other", "next_other")):
            expected = role_model.scalar(scalar)
            got = turns[key] / total
            rows.append(_scalar_row(f"{role}.{scalar}", "share", total, expected, got))
        for scalar, got_share in (
            ("photo_share", observed.photo_share[role]),
            ("page_back_share", observed.page_back_share[role]),
        ):
            if got_share is not None:
                expected = role_model.scalar(scalar)
                rows.append(_scalar_row(f"{role}.{scalar}", "share", 0, expected, got_share))
        if role in observed.top_tenth_share:
            top = observed.top_tenth_share[role]
            rows.append(_scalar_row(f"{role}.top_tenth_share", "share", 0, math.nan, top))
    return rows


def _scalar_row(name: str, kind: str, n: int, expected: float, got: float) -> TrafficRow:
    d = abs(got - expected) if not math.isnan(expected) else math.nan
    return TrafficRow(name, kind, n, d, (expected, math.nan, math.nan), (got, math.nan, math.nan))
