"""A traffic model fitted from an export. Pure: an :class:`Export` in, a model out.

Each quantity of each role is fitted from its samples (``traffic.fitting``: by
maximum likelihood, the family by AIC). What the export cannot show (no reads, no
sessions, too few samples: fewer than ``MIN_SAMPLES``) is taken from a base model,
the built-in default unless another is given, and the model's ``sources`` say so,
quantity by quantity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from chatload.traffic.fitting import Fit, fit_censored, fit_samples, fit_weights
from chatload.traffic.model import QUANTITIES, RoleModel, TrafficModel
from chatload.traffic.observe import Export, Observed, observe
from chatload.users_file import ROLES, Role

__all__ = ["COUNTS", "MIN_SAMPLES", "ModelFit", "QuantityFit", "fit_model"]

MIN_SAMPLES: Final = 100
COUNTS: Final = frozenset({"burst_size", "pages", "text_length", "photos"})


@dataclass(frozen=True)
class QuantityFit:
    role: Role
    name: str
    fit: Fit | None  # None: from the base model
    samples: np.ndarray
    source: str
    beyond: np.ndarray | None = None  # times known only to exceed these (censored)


@dataclass(frozen=True)
class ModelFit:
    model: TrafficModel
    quantities: list[QuantityFit]
    observed: Observed


def _scalars(
    observed: Observed, role: Role, base: RoleModel
) -> tuple[dict[str, float], dict[str, str]]:
    scalars, sources = dict(base.scalars), {}
    turns = observed.turns[role]
    total = turns["same"] + turns["other"] + turns["end"]
    if total >= MIN_SAMPLES:
        scalars["next_same"] = turns["same"] / total
        scalars["next_other"] = turns["other"] / total
        sources["next_same"] = sources["next_other"] = f"export: {total:,} turns"
    hours = observed.hours_online[role]
    if hours > 0 and observed.bursts_started[role] >= MIN_SAMPLES:
        scalars["burst_starts_per_hour"] = observed.bursts_started[role] / hours
        sources["burst_starts_per_hour"] = (
            f"export: {observed.bursts_started[role]:,} bursts in {hours:,.0f} h online"
        )
    for name, value in (
        ("photo_share", observed.photo_share[role]),
        ("page_back_share", observed.page_back_share[role]),
    ):
        if value is not None:
            scalars[name] = value
            sources[name] = "export"
    return scalars, sources


def _arrivals(observed: Observed, role: Role, base: RoleModel) -> tuple[tuple[float, ...], str]:
    rates = observed.arrivals_per_hour[role]
    if rates is None or not np.isfinite(rates).any() or not np.nansum(rates):
        return base.arrivals_per_hour, "default: no sessions in the export"
    covered = np.isfinite(rates)
    default = np.array(base.arrivals_per_hour)
    # Hours the export does not cover follow the base curve, scaled to the covered ones.
    scale = float(np.sum(rates[covered]) / max(np.sum(default[covered]), 1e-12))
    filled = np.where(covered, rates, default * scale)
    source = f"export: {int(covered.sum())} of 24 hours covered"
    if not covered.all():
        source += ", the rest from the base curve's shape"
    return tuple(float(v) for v in filled), source


def fit_model(
    export: Export, *, burst_gap_s: float, base: TrafficModel, name: str = "", seed: int = 0
) -> ModelFit:
    observed = observe(export, burst_gap_s)
    roles: dict[Role, RoleModel] = {}
    quantities: list[QuantityFit] = []
    sources: dict[str, str] = {}
    rates: dict[Role, float] = {}  # bursts per hour online at weight 1, fitted with weights
    for role in ROLES:
        base_role = base.role(role)
        families = dict(base_role.families)
        for _, quantity in QUANTITIES:
            samples = observed.samples[role].get(quantity, np.array([]))
            key = f"{role}.{quantity}"
            if len(samples) < MIN_SAMPLES:
                why = "none in the export" if not len(samples) else f"only {len(samples)}"
                sources[key] = f"{_base_name(base)}: {why} (fewer than {MIN_SAMPLES})"
                quantities.append(QuantityFit(role, quantity, None, samples, sources[key]))
                continue
            if quantity == "weight":
                fit, rate = fit_weights(samples, observed.hours_of_people.get(role))
                if observed.hours_of_people.get(role) is not None:
                    rates[role] = rate
            elif quantity not in COUNTS and len(beyond := _cut(observed, role, quantity)):
                fit = fit_censored(samples, beyond, seed=seed)  # read delays a session cut
            else:
                fit = fit_samples(samples, seed=seed, discrete=quantity in COUNTS)
            families[quantity] = fit.family
            sources[key] = f"export: n {fit.n:,}, {fit.family.name}, D {fit.d:.3f}"
            cut = _cut(observed, role, quantity) if quantity not in COUNTS else None
            quantities.append(QuantityFit(role, quantity, fit, samples, sources[key], cut))
        scalars, scalar_sources = _scalars(observed, role, base_role)
        if role in rates:
            scalars["burst_starts_per_hour"] = rates[role]
            scalar_sources["burst_starts_per_hour"] = (
                f"export: {observed.bursts_started[role]:,} bursts, fitted with the weights"
            )
        for quantity in base_role.scalars:
            sources[f"{role}.{quantity}"] = scalar_sources.get(quantity, f"{_base_name(base)}")
        arrivals, sources[f"{role}.arrivals_per_hour"] = _arrivals(observed, role, base_role)
        roles[role] = RoleModel(arrivals, families, scalars)
    model = TrafficModel(roles, burst_gap_s, sources, name)
    return ModelFit(model, quantities, observed)


def _cut(observed: Observed, role: Role, quantity: str) -> np.ndarray:
    """The times known only to exceed these values (a session ended first)."""
    return observed.samples[role].get(f"{quantity}_at_least", np.zeros(0))


def _base_name(base: TrafficModel) -> str:
    return "default" if base.name == "default" else f"base model {base.name or '(unnamed)'}"


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)] if len(values) else values


def top_share(samples: np.ndarray, share: float = 0.1) -> float:
    """The share of the total that the top ``share`` of people hold (weights)."""
    values = np.sort(_finite(samples))[::-1]
    if not len(values) or not values.sum():
        return math.nan
    top = max(1, round(len(values) * share))
    return float(values[:top].sum() / values.sum())
