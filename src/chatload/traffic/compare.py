"""A run's traffic against its model: the rows of ``PREFIX_traffic.csv``. Pure.

Each quantity of each role: the run's samples (``traffic.observe`` on the traffic
the run generated, in the model's time) against the model's family, by the
Kolmogorov-Smirnov distance D: an effect size, not a p-value (with many samples
every difference is "significant"). A run cannot show a gap longer than itself:
every time is compared below a horizon ``h`` (a third of the run's span, at most
the burst gap), over the values whose whole range fell inside the run (those that
began ``h`` or more before its end), against the model's distribution below ``h``
(its CDF over its CDF at ``h``). Lengths and counts are compared whole, at the
counts.

``verdict``: ``matches`` (D <= ``MAX_D`` with enough samples for chance alone to
stay within ``MAX_D`` 99 times in 100: ``ENOUGH``, as the KS critical value at 1,000
samples is 0.05), ``differs`` (D > ``MAX_D`` and beyond what chance alone gives 1
time in 100 with this many samples), ``differs?`` (D > ``MAX_D``, within chance) or
``too few samples``. Shares are rows too, their D the absolute difference, chance
the binomial's; a share the model has no value for (the top tenth's share of
messages) is shown with ``no model value``. Arrivals are judged by the
time-rescaling theorem: the own arrivals' gaps, each measured in the model's
expected arrivals, are exponential of mean 1 when the process is the model's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from chatload.traffic.arrivals import ArrivalClock
from chatload.traffic.families import Family
from chatload.traffic.fit import COUNTS
from chatload.traffic.fitting import ks_distance
from chatload.traffic.model import QUANTITIES, TrafficModel
from chatload.traffic.observe import Export, observe
from chatload.traffic.survival import kaplan_meier
from chatload.users_file import ROLES, Role

__all__ = [
    "COMPARED",
    "ENOUGH",
    "MAX_D",
    "TRAFFIC_COLUMNS",
    "TrafficRow",
    "below",
    "compare_traffic",
    "horizon_below",
    "horizon_of",
]

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
# Every family-valued quantity a run shows: a weight is not seen, and burst sizes are
# compared through the turns that make them.
COMPARED: Final = tuple(name for _, name in QUANTITIES if name not in ("weight", "burst_size"))
_Z99: Final = 2.576  # the normal's two-sided 99 % point
_KS99: Final = 1.628  # the Kolmogorov distribution's 99 % point (D * sqrt(n))
_SHARES: Final = (0.5, 0.9, 0.99)
Triple = tuple[float, float, float]
_NONE: Final[Triple] = (math.nan, math.nan, math.nan)
# Arrivals of a role expected from the run's start up to a time of the model's clock.
Cumulative = Callable[[Role, float], float]


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
        if self.family == "share" and math.isnan(self.model[0]):
            return "no model value"
        if math.isnan(self.d):
            return "too few samples"
        if self.d > MAX_D:
            return "differs" if self.d > self.chance else "differs?"
        return "matches" if self.n >= self.enough else "too few samples"

    @property
    def chance(self) -> float:
        """What chance alone passes 1 time in 100 with this many samples: the KS
        distance's critical value, or a share's 2.576 binomial standard deviations."""
        if self.n <= 0:
            return math.inf
        if self.family != "share":
            return _KS99 / math.sqrt(self.n)
        p = self.model[0]
        return _Z99 * math.sqrt(p * (1 - p) / self.n)

    @property
    def enough(self) -> float:
        """Samples for chance alone to stay within ``MAX_D`` 99 times in 100."""
        if self.family != "share":
            return ENOUGH
        p = self.model[0]
        return (_Z99 / MAX_D) ** 2 * p * (1 - p)

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


def below(family: Family, cut: float, discrete: bool) -> tuple[Family, float]:
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
    model, _ = below(family, cut, discrete)
    quantiles = model.ppf(np.array(_SHARES))
    model_quantiles = _triple(np.ceil(quantiles) if discrete else quantiles)
    if not len(samples):
        return TrafficRow(name, family.name, 0, math.nan, model_quantiles, _NONE)
    d = ks_distance(samples, model, discrete=discrete)
    run = _triple(np.quantile(samples, _SHARES))
    return TrafficRow(name, family.name, len(samples), d, model_quantiles, run)


def _censored_count_row(
    name: str, family: Family, exact: np.ndarray, at_least: np.ndarray
) -> TrafficRow:
    """Counts some of which are known only from below (at least L, so beyond L - 1):
    the Kaplan-Meier estimate of their CDF against the model's, at the counts."""
    exact, at_least = np.asarray(exact, dtype=float), np.asarray(at_least, dtype=float)
    model = _triple(np.ceil(family.ppf(np.array(_SHARES))))
    estimate = kaplan_meier(exact, at_least - 1)
    top = 0 if math.isnan(estimate.until) else int(estimate.until)
    counts = np.arange(1, top + 1, dtype=float)
    d, cdf = math.nan, estimate.at(counts)
    if top:  # a step function of the counts: compared at each count, events or none
        d = float(np.max(np.abs(cdf - family.cdf(counts))))
    p50, p90, p99 = (
        float(next((k + 1 for k, f in enumerate(cdf) if f >= q - 1e-12), math.nan)) for q in _SHARES
    )
    return TrafficRow(name, family.name, estimate.n, d, model, (p50, p90, p99))


def _censored_time_row(
    name: str, family: Family, exact: np.ndarray, at_least: np.ndarray
) -> TrafficRow:
    """Times some of which are known only from below (a session ended first): the
    Kaplan-Meier estimate against the model's CDF, whole (the censoring, not a
    horizon, accounts for what the run could not show)."""
    estimate = kaplan_meier(exact, at_least)
    model = _triple(family.ppf(np.array(_SHARES)))
    run = _triple(np.array([estimate.quantile(share) for share in _SHARES]))
    return TrafficRow(name, family.name, estimate.n, estimate.distance(family), model, run)


def _triple(values: np.ndarray) -> Triple:
    return float(values[0]), float(values[1]), float(values[2])


def _arrival_row(
    role: Role,
    model: TrafficModel,
    times: np.ndarray,
    people: int,
    start: float,
    *,
    cumulative: Cumulative | None = None,
) -> TrafficRow:
    """Time rescaling: the gaps between own arrivals in units of expected arrivals
    (``cumulative``: those expected up to each time, when not the model's day's)."""
    unit = Family("exponential", {"scale": 1.0})
    expected = _triple(unit.ppf(np.array(_SHARES)))
    times = np.sort(times)
    name = f"{role}.arrivals"
    if len(times) < 2 or (people <= 0 and cumulative is None):
        return TrafficRow(name, "poisson", len(times), math.nan, expected, _NONE)
    if cumulative is not None:
        scaled = np.array([cumulative(role, float(t)) for t in times])
    else:
        clock = ArrivalClock(model.role(role), people)
        day = start - start % 86400
        scaled = np.array([clock.expected(0.0, t - day) for t in times])
    gaps = np.diff(scaled)
    d = ks_distance(gaps, unit)
    return TrafficRow(name, "poisson", len(gaps), d, expected, _triple(np.quantile(gaps, _SHARES)))


def horizon_of(model: TrafficModel, export: Export) -> float:
    """The longest value the run can show whole: a third of its span, at most the
    burst gap."""
    return min(max(export.end - export.start, 0.0) / 3, model.burst_gap_s)


def horizon_below(quantity: str, horizon: float) -> float:
    """A time is compared below the horizon; a length or a count whole."""
    return horizon if quantity.endswith("_s") else math.inf


def compare_traffic(
    model: TrafficModel, export: Export, cumulative: Cumulative | None = None
) -> list[TrafficRow]:
    """Every quantity of the run's traffic against ``model``, in the model's time
    (``cumulative``: the arrivals expected up to a time, for a run whose arrival
    rates were not the model's day: a capacity search's levels)."""
    horizon = horizon_of(model, export)
    observed = observe(export, model.burst_gap_s, horizon=horizon)
    rows: list[TrafficRow] = []
    for role in ROLES:
        role_model = model.role(role)
        people = export.people.get(role, 0)
        times = observed.arrival_times[role]
        rows.append(_arrival_row(role, model, times, people, export.start, cumulative=cumulative))
        for name in COMPARED:
            samples = observed.samples[role].get(name, np.array([]))
            at_least = observed.samples[role].get(f"{name}_at_least")
            if at_least is not None and len(at_least):
                censored = _censored_count_row if name in COUNTS else _censored_time_row
                family = role_model.family(name)
                rows.append(censored(f"{role}.{name}", family, samples, at_least))
                continue
            cut = horizon_below(name, horizon)
            rows.append(_quantity_row(f"{role}.{name}", role_model.family(name), samples, cut))
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
                n = observed.share_n[role].get(scalar, 0)
                rows.append(_scalar_row(f"{role}.{scalar}", "share", n, expected, got_share))
        if role in observed.top_tenth_share:
            top = observed.top_tenth_share[role]
            rows.append(_scalar_row(f"{role}.top_tenth_share", "share", 0, math.nan, top))
    return rows


def _scalar_row(name: str, kind: str, n: int, expected: float, got: float) -> TrafficRow:
    d = abs(got - expected) if not math.isnan(expected) else math.nan
    return TrafficRow(name, kind, n, d, (expected, math.nan, math.nan), (got, math.nan, math.nan))
