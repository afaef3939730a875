"""Turns carried over from before a run: a warm start at the model's steady state. Pure.

A chat's traffic at any moment is in good part conversations begun long before: a
quarter of the default model's answers come hours later (``reply_gap_s``). A run
that starts from nothing has none of them, and its first hour writes less than half
the messages the same people write in the steady state (a 10-minute capacity level
measured 43 % of them). So a run that must play the steady state at once (a capacity
search in production units) adds the turns its past would have made due now.

In the steady state, turns of a kind (a writer's role; an answer, or the same person
again) fall due at a rate ``per_s`` times the load multiplier. A turn due at ``t``
was generated ``gap`` earlier; those generated during the run are the run's own, so
the past owes the rest (the stationary start of a renewal process):

    carried(t) = per_s * max(0, m(t) - integral of m(s) f(t - s) ds over the run)

with ``m`` the multiplier's history and ``f`` the gap's density; a fall to a lower
multiplier takes the turns of the people it leaves out, so the history before it
counts the fall's share from then on (``Multipliers.thinned_before``). For a constant
multiplier that is ``per_s * m * S(t - start)``, the gap's survival: the carried
turns fade as the run's own take over. Each carried turn continues a conversation of
a person of that role, who then plays it on by the model's rules (answering sessions
included), so the turns after it are the run's own.

Sessions too: a person online at the start has been for a while. When the multiplier
rises by ``d``, the past owes ``d`` times the sessions open at once at 1x (answering
ones too), each with what is left of it: a
length-biased duration times a uniform share (the equilibrium residual,
:func:`remaining`), so the sessions open are the steady state's at once, not after
a mean duration's ramp.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from chatload.traffic.families import Family
from chatload.users_file import Role

__all__ = ["CarriedTurns", "Multipliers", "TurnStream", "poisson", "remaining"]

_LENGTH_BIAS_DRAWS: Final = 256

# Seconds: a gap's CDF is tabled once, so that scipy stays off the run's loop.
_GRID: Final = np.logspace(-3, 7, 2001)


@dataclass
class Multipliers:
    """A load multiplier's history: (since, multiplier), in time order."""

    steps: list[tuple[float, float]] = field(default_factory=list)

    def set(self, at: float, multiplier: float) -> None:
        if self.steps and at < self.steps[-1][0]:
            raise ValueError("a multiplier's history goes forward")
        self.steps.append((at, multiplier))

    def at(self, t: float) -> float:
        index = bisect.bisect_right([since for since, _ in self.steps], t) - 1
        return self.steps[index][1] if index >= 0 else 0.0

    def spans(self, start: float, end: float) -> list[tuple[float, float, float]]:
        """(from, to, multiplier) covering ``start``..``end`` (none before the first step)."""
        spans = []
        for i, (since, multiplier) in enumerate(self.steps):
            until = self.steps[i + 1][0] if i + 1 < len(self.steps) else math.inf
            a, b = max(since, start), min(until, end)
            if a < b:
                spans.append((a, b, multiplier))
        return spans

    def thinned_before(self, at: float, keep: float) -> None:
        """A fall at ``at`` kept ``keep`` of the turns the past owes (its people left
        with theirs): what the past generated counts ``keep`` times from now on."""
        self.steps = [(since, m * keep if since < at else m) for since, m in self.steps]

    def integral(self, start: float, end: float, base: Callable[[float, float], float]) -> float:
        """The multiplier times ``base(a, b)`` (a quantity over a..b at 1x), summed."""
        return sum(m * base(a, b) for a, b, m in self.spans(start, end))


@dataclass(frozen=True)
class TurnStream:
    """Turns of one kind in the steady state at 1x: whose, how many a second, after
    which gap."""

    writer: Role
    per_s: float
    gap: Family


class CarriedTurns:
    def __init__(self, streams: list[TurnStream], open_at_once: Mapping[Role, float]) -> None:
        self.streams = [s for s in streams if s.per_s > 0]
        self.open_at_once = open_at_once  # sessions open at 1x in the steady state
        self._cdfs = [np.asarray(s.gap.cdf(_GRID), dtype=float) for s in self.streams]

    def _cdf(self, index: int, x: float) -> float:
        return float(np.interp(x, _GRID, self._cdfs[index], left=0.0, right=1.0))

    def rate(self, writer: Role, t: float, history: Multipliers) -> float:
        """Carried turns of ``writer`` due a second at ``t``."""
        total = 0.0
        for index, stream in enumerate(self.streams):
            if stream.writer != writer:
                continue
            own = sum(
                m * (self._cdf(index, t - a) - self._cdf(index, t - b))
                for a, b, m in history.spans(-math.inf, t)
            )
            total += stream.per_s * max(0.0, history.at(t) - own)
        return total

    def bound(self, writer: Role, multiplier: float) -> float:
        """A rate no carried rate passes while the multiplier stays at most ``multiplier``."""
        return multiplier * sum(s.per_s for s in self.streams if s.writer == writer)


def remaining(duration: Family, rng: random.Random) -> float:
    """What is left of a session open at a random moment of the steady state: a
    duration drawn in proportion to its length (the longer, the likelier to be open:
    exact for a lognormal, else picked among draws by weight, which misses a little
    of a heavy tail), times a uniform share."""
    if duration.name == "lognormal":  # length-biased, exactly: mu moves up by sigma^2
        mu, sigma = duration.params["mu"], duration.params["sigma"]
        return rng.lognormvariate(mu + sigma**2, sigma) * rng.random()
    draws = [duration.draw(rng) for _ in range(_LENGTH_BIAS_DRAWS)]
    return rng.choices(draws, weights=draws)[0] * rng.random()


def poisson(mean: float, rng: random.Random) -> int:
    """A Poisson count (by its normal approximation from a mean of 50)."""
    if mean <= 0:
        return 0
    if mean >= 50:
        return max(0, round(rng.normalvariate(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
