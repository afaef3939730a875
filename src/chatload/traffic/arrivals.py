"""Open session arrivals: a Poisson process at the model's rate for each hour. Pure.

The rate of a role at model hour h is ``population / 1000 * arrivals_per_hour[h]``
sessions per model hour; played ``time_scale`` times faster, per run second it is
that times ``time_scale / 3600``. A process that gets ``share`` of the run's
arrivals (one of n workers: 1/n; splitting a Poisson process at random gives
Poisson processes) draws its own. The rate is constant within each model hour, so
the next arrival is exact: an exponential amount of integrated rate, spent hour by
hour. A capacity search holds the hour still (``frozen``): its load is the busiest
hour's, times a multiplier.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from chatload.traffic.model import RoleModel

__all__ = ["ArrivalClock"]


@dataclass(frozen=True, slots=True)
class ArrivalClock:
    role_model: RoleModel
    population: int  # people of the role
    time_scale: float = 1.0
    start_hour: float = 0.0  # the model's hour of the day at run second 0
    share: float = 1.0  # of the run's arrivals this process draws
    frozen: bool = False  # the model's hour stays start_hour (a capacity search's peak)

    def rate(self, run_seconds: float) -> float:
        """Arrivals per run second at ``run_seconds`` into the run."""
        hour = self.model_hour(run_seconds)
        per_model_hour = self.population / 1000 * self.role_model.arrivals_at(hour)
        return per_model_hour * self.share * self.time_scale / 3600

    def model_hour(self, run_seconds: float) -> float:
        if self.frozen:
            return self.start_hour % 24
        return (self.start_hour + run_seconds * self.time_scale / 3600) % 24

    def next_after(self, run_seconds: float, rng: random.Random) -> float:
        """The next arrival after ``run_seconds`` (inf: the rate is 0 all day)."""
        budget = rng.expovariate(1.0)
        at = run_seconds
        hour_seconds = 3600 / self.time_scale  # one model hour, in run seconds
        for _ in range(24 * 366):
            hour_end = math.floor(self.model_hour(at) + 1e-12) + 1 - self.model_hour(at)
            span = max(hour_end * hour_seconds, 1e-9)
            rate = self.rate(at)
            if rate * span >= budget:
                return at + budget / rate
            budget -= rate * span
            at += span
        return math.inf

    def expected(self, start: float, end: float) -> float:
        """Arrivals expected between two run seconds."""
        total, at = 0.0, start
        hour_seconds = 3600 / self.time_scale
        while at < end:
            hour_end = math.floor(self.model_hour(at) + 1e-12) + 1 - self.model_hour(at)
            step = min(max(hour_end * hour_seconds, 1e-9), end - at)
            total += self.rate(at) * step
            at += step
        return total
