"""How many sessions a model keeps open at once, by role. Pure.

A model's own arrivals understate it: a reply due from someone offline brings them
online (an *answering session*, ``traffic.simulate``), and in chat there are many
(the default model, 2 chats per requester: an owner answers in 5.5 sessions a day
beside their own 6). So the model is simulated, by the same rules a run
follows, on a small world in the run's proportions (``SIMULATED_PEOPLE``, its
chats per requester), for ``SIMULATED_DAYS`` days; the busiest hour of the last
day (conversations under way) gives each role's sessions at once per person,
scaled to the run's people. Concurrency does not depend on ``--time-scale``:
sessions are K times shorter and K times as frequent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from chatload.traffic.model import TrafficModel
from chatload.traffic.peak import PeakTraffic, peak_of
from chatload.traffic.simulate import World, simulate
from chatload.users_file import ROLES, Role

__all__ = ["SIMULATED_DAYS", "SIMULATED_PEOPLE", "AtOnce", "Sizing", "sessions_at_once"]

SIMULATED_PEOPLE: Final = 2000
SIMULATED_DAYS: Final = 2
_MIN_PER_ROLE: Final = 50
_HEADROOM_SD: Final = 4.0  # a Poisson count's standard deviations over the mean


@dataclass(frozen=True)
class AtOnce:
    """One role's sessions open at once at the model's busiest hour."""

    mean: float

    @property
    def ceiling(self) -> float:
        """Enough slots that the busiest hour's count rarely passes them."""
        return self.mean + _HEADROOM_SD * math.sqrt(self.mean)


def sessions_at_once(
    model: TrafficModel, people: Mapping[Role, int], chats_each: int, seed: int = 0
) -> dict[Role, AtOnce]:
    """Each role's sessions at once at the busiest hour, for ``people`` of each role."""
    small = _small_world(people)
    if small is None:
        return {role: AtOnce(0.0) for role in ROLES}
    rates, _ = _per_person(model, small, chats_each, seed)
    return {role: AtOnce(rates[role] * people.get(role, 0)) for role in ROLES}


def _small_world(people: Mapping[Role, int]) -> tuple[int, int] | None:
    """(owners, requesters) of the simulated world in ``people``'s proportions."""
    total = sum(people.values())
    if total <= 0:
        return None
    owners, requesters = (
        max(_MIN_PER_ROLE, round(SIMULATED_PEOPLE * people.get(role, 0) / total)) for role in ROLES
    )
    return owners, requesters


def _per_person(
    model: TrafficModel, small: tuple[int, int], chats_each: int, seed: int, held: bool = False
) -> tuple[dict[Role, float], PeakTraffic]:
    """Each role's sessions open at its busiest hour per person, in a world of
    ``small`` (owners, requesters); and the busiest hour's traffic per person (a
    ``held`` model's, its arrivals the same every hour: the whole last day's)."""
    world = World.made(small[0], small[1], chats_each, seed=seed)
    export = simulate(model, world, days=SIMULATED_DAYS, seed=seed)
    sessions = export.sessions if export.sessions is not None else np.empty((0, 3))
    owners = np.array([world.roles[int(user)] == "owner" for user in sessions[:, 0]], dtype=bool)
    last_day = (SIMULATED_DAYS - 1) * 86400.0
    minutes = last_day + np.arange(0, 86400, 60.0)
    rates, hourly = {}, {}
    for role, size in zip(ROLES, small, strict=True):
        mine = sessions[owners if role == "owner" else ~owners]
        starts, ends = np.sort(mine[:, 1]), np.sort(mine[:, 2])
        open_at = np.searchsorted(starts, minutes, "right") - np.searchsorted(
            ends, minutes, "right"
        )
        hourly[role] = open_at.reshape(24, 60).mean(axis=1) / size
        rates[role] = float(hourly[role].max())
    at_once = sum(hourly[role] * size for role, size in zip(ROLES, small, strict=True))
    busiest = int(np.argmax(at_once))
    if held:  # every hour alike: the day's mean, not its noisiest hour
        day = (last_day, last_day + 86400.0)
        means = {role: float(hourly[role].mean()) for role in ROLES}
        return means, peak_of(world.roles, export, day, means, model.burst_gap_s)
    hour = (last_day + busiest * 3600.0, last_day + (busiest + 1) * 3600.0)
    busy = {role: float(hourly[role][busiest]) for role in ROLES}
    return rates, peak_of(world.roles, export, hour, busy, model.burst_gap_s)


class Sizing:
    """A run's slots and people from its model, each world simulated once: populations
    in the same proportions (the sizing's and the dataset's) share one simulation."""

    def __init__(self, model: TrafficModel, chats_each: int, *, held: bool = False) -> None:
        self.model, self.chats_each, self.held = model, chats_each, held
        self._simulated: dict[tuple[int, int], tuple[dict[Role, float], PeakTraffic]] = {}

    def _simulation(self, small: tuple[int, int]) -> tuple[dict[Role, float], PeakTraffic]:
        if small not in self._simulated:
            self._simulated[small] = _per_person(
                self.model, small, self.chats_each, seed=0, held=self.held
            )
        return self._simulated[small]

    def at_once(self, people: Mapping[Role, int]) -> dict[Role, AtOnce]:
        small = _small_world(people)
        if small is None:
            return {role: AtOnce(0.0) for role in ROLES}
        rates = self._simulation(small)[0]
        return {role: AtOnce(rates[role] * people.get(role, 0)) for role in ROLES}

    def peak(self, people: Mapping[Role, int]) -> PeakTraffic:
        """The busiest hour's traffic per person, in ``people``'s proportions."""
        small = _small_world(people) or (_MIN_PER_ROLE, _MIN_PER_ROLE)
        return self._simulation(small)[1]

    def slots_for(self, people: Mapping[Role, int]) -> dict[Role, float]:
        """Each role's slots: its sessions at once at the busiest hour, with headroom."""
        return {role: at_once.ceiling for role, at_once in self.at_once(people).items()}

    def people_for(self, slots: int, ratio: Mapping[Role, float], most: int) -> int:
        """The most people (at most ``most``, in ``ratio``) whose busiest hour's
        sessions, with their headroom, fit in ``slots``; never fewer than ``slots``."""
        return max(slots, round(min(self.people_fitting(slots, ratio), most)))

    def people_fitting(self, slots: int, ratio: Mapping[Role, float]) -> float:
        """How many people (in ``ratio``) fill ``slots`` at the busiest hour, with
        their headroom."""
        parts = sum(ratio.values())
        unit = self.at_once({role: round(1000 * ratio[role] / parts) for role in ROLES})
        per_person = [unit[role].mean / 1000 for role in ROLES]

        def needed(people: float) -> float:
            return sum(AtOnce(people * share).ceiling for share in per_person)

        low, high = 0.0, 1.0
        while needed(high) <= slots and high < 1e12:
            high *= 2
        for _ in range(60):
            middle = (low + high) / 2
            low, high = (middle, high) if needed(middle) <= slots else (low, middle)
        return low
