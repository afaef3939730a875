"""The turns and sessions a run's past owes: at a constant multiplier the carried
turns are the rate times the gap's survival; the run's own take over; a sessions'
remainder has the equilibrium's mean."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from chatload.traffic.carry_over import CarriedTurns, Multipliers, TurnStream, poisson, remaining
from chatload.traffic.families import Family

GAP = Family("lognormal", {"mu": math.log(30.0), "sigma": 1.0})


def _carried(per_s: float = 2.0) -> CarriedTurns:
    return CarriedTurns([TurnStream("owner", per_s, GAP)], {"owner": 10.0})


def test_at_a_constant_multiplier_the_past_owes_the_gaps_survival() -> None:
    history = Multipliers([(100.0, 3.0)])
    carried = _carried()
    for after in (0.0, 10.0, 30.0, 120.0, 600.0):
        survival = 1.0 - float(GAP.cdf(np.array([after]))[0])
        expected = 2.0 * 3.0 * survival
        assert carried.rate("owner", 100.0 + after, history) == pytest.approx(expected, abs=2e-3)
    assert carried.rate("requester", 130.0, history) == 0.0  # no stream of that writer
    assert carried.bound("owner", 3.0) == 6.0


def test_a_rise_owes_its_own_share_and_a_fall_owes_nothing() -> None:
    history = Multipliers([(0.0, 1.0), (1000.0, 4.0)])
    carried = _carried()
    # Just after the rise: nearly 4x (the first level's turns are its own by then).
    just_after = carried.rate("owner", 1000.001, history)
    owed_by_first = 2.0 * (1.0 - float(GAP.cdf(np.array([1000.0]))[0]))
    assert just_after == pytest.approx(2.0 * 3.0 + owed_by_first, rel=1e-3)
    # A fall: the run's own turns of the higher level outnumber what the lower one
    # wants now, and nothing is carried.
    falling = Multipliers([(0.0, 4.0), (1000.0, 1.0)])
    assert carried.rate("owner", 1000.5, falling) == 0.0


def test_a_fall_takes_its_people_s_turns_and_a_rise_after_it_owes_them_again() -> None:
    carried = _carried()
    history = Multipliers([(0.0, 4.0)])
    # Falling to 1x at 1000 s took three quarters of the turns the past owed.
    history.thinned_before(1000.0, 0.25)
    history.set(1000.0, 1.0)
    assert history.steps == [(0.0, 1.0), (1000.0, 1.0)]
    history.set(1010.0, 4.0)
    # Back at 4x 10 s later: nearly the whole rise is owed, as after a long 1x.
    steady_one = Multipliers([(0.0, 1.0), (1010.0, 4.0)])
    assert carried.rate("owner", 1010.001, history) == pytest.approx(
        carried.rate("owner", 1010.001, steady_one), rel=1e-6
    )
    unthinned = Multipliers([(0.0, 4.0), (1000.0, 1.0), (1010.0, 4.0)])
    assert carried.rate("owner", 1010.001, unthinned) < 0.5 * carried.rate(
        "owner", 1010.001, history
    )


def test_a_history_goes_forward_and_integrates_by_spans() -> None:
    history = Multipliers([(0.0, 2.0)])
    history.set(10.0, 5.0)
    with pytest.raises(ValueError, match="forward"):
        history.set(5.0, 1.0)
    assert history.at(-1.0) == 0.0 and history.at(9.9) == 2.0 and history.at(10.0) == 5.0
    assert history.integral(5.0, 20.0, lambda a, b: b - a) == pytest.approx(2 * 5 + 5 * 10)


def test_what_is_left_of_an_open_session_has_the_equilibriums_mean() -> None:
    duration = Family("lognormal", {"mu": math.log(45.0), "sigma": 1.1})
    rng = random.Random(7)
    draws = [remaining(duration, rng) for _ in range(40_000)]
    # E[D^2] / (2 E[D]) = E[D] exp(sigma^2) / 2 for a lognormal: 137 s against a mean
    # duration of 82 s (the longer sessions are the likelier to be open).
    mean = math.exp(math.log(45.0) + 1.1**2 / 2)
    assert np.mean(draws) == pytest.approx(mean * math.exp(1.1**2) / 2, rel=0.03)
    # Any other family by weighted draws: a Weibull of shape 0.8 (scale 60 s), whose
    # E[D^2] / (2 E[D]) is scale * G(1 + 2/k) / (2 G(1 + 1/k)).
    weibull = Family("weibull", {"shape": 0.8, "scale": 60.0})
    draws = [remaining(weibull, rng) for _ in range(20_000)]
    truth = 60.0 * math.gamma(1 + 2 / 0.8) / (2 * math.gamma(1 + 1 / 0.8))
    assert np.mean(draws) == pytest.approx(truth, rel=0.06)


def test_poisson_counts_have_their_mean() -> None:
    rng = random.Random(3)
    for mean in (0.0, 0.4, 7.0, 400.0):
        counts = [poisson(mean, rng) for _ in range(4000)]
        assert np.mean(counts) == pytest.approx(mean, abs=max(0.05, 0.03 * mean))
