"""A capacity search in production units: its levels as multipliers of a model's
busiest hour. Pure.

The search plays the model's busiest hour (by arrivals, in the identities'
proportions of owners and requesters) *held*: every hour's arrivals that hour's, so
that the traffic is the steady state of that hour lasting (a little above the day's
busiest hour, whose conversations began in quieter hours). Its slots (Locust users,
each a session at a time) grow as any search's do; a level of ``users`` slots
carries the most people whose sessions, headroom included, fit in them
(``Sizing.people_fitting`` on the held model), and its *multiplier* is those people
over the ``baseline`` (1x: the production's people, ``--population``, or 1,000, the
unit the model's rates are given in). The arrival process plays that hour, its
rates scaled from the identities' population to the level's people.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from chatload.traffic.concurrency import Sizing
from chatload.traffic.model import TrafficModel
from chatload.traffic.peak import PeakTraffic
from chatload.users_file import ROLES, Role

__all__ = ["DEFAULT_BASELINE", "LoadLevels", "held_at_busiest"]

DEFAULT_BASELINE: Final = 1000  # people at 1x without --population: the model's own unit


def held_at_busiest(model: TrafficModel, people: Mapping[Role, int]) -> tuple[TrafficModel, int]:
    """``model`` with every hour's arrivals its busiest hour's (for ``people``'s
    proportions), and that hour."""

    def arrivals(hour: int) -> float:
        return sum(people.get(r, 0) * model.role(r).arrivals_per_hour[hour] for r in ROLES)

    hour = max(range(24), key=arrivals)
    roles = {
        role: dataclasses.replace(
            model.role(role), arrivals_per_hour=(model.role(role).arrivals_per_hour[hour],) * 24
        )
        for role in ROLES
    }
    return dataclasses.replace(model, roles=roles), hour


@dataclass
class LoadLevels:
    model: TrafficModel  # the model as given (its busiest hour is held here)
    chats_each: int  # chats per requester of the world it is sized on
    pool: Mapping[Role, int]  # the identities the run has, by role
    baseline: int = DEFAULT_BASELINE
    held: TrafficModel = field(init=False)
    hour: int = field(init=False)
    sizing: Sizing = field(init=False)

    def __post_init__(self) -> None:
        self.held, self.hour = held_at_busiest(self.model, self.pool)
        self.sizing = Sizing(self.held, self.chats_each, held=True)

    @property
    def peak(self) -> PeakTraffic:
        """The held hour's steady state, per person (its hour the busiest)."""
        return dataclasses.replace(self.sizing.peak(self.pool), hour=self.hour)

    def people(self, users: int) -> float:
        """The people a level of ``users`` slots carries."""
        return self.sizing.people_fitting(users, self.pool)

    def multiplier(self, users: int) -> float:
        return self.people(users) / self.baseline

    def scale(self, users: int) -> float:
        """The arrival rates' factor over the identities' population's."""
        return self.people(users) / max(sum(self.pool.values()), 1)

    def open_at_once(self) -> dict[Role, float]:
        """Sessions open at once at a scale of 1 (the identities' population), by role."""
        return {role: self.peak.at_once[role] * self.pool.get(role, 0) for role in ROLES}

    def most_users(self) -> int:
        """The highest level the identities serve: a session each, half of them free
        for the next to come (people come back sooner than the model says when a
        level carries more people than there are identities; the server sees the
        same traffic)."""
        return max(1, sum(self.pool.values()) // 2)

    def expected(self, multiplier: float) -> dict[str, float]:
        """The held hour at ``multiplier``: sessions/s, messages/s, at once."""
        total = sum(self.pool.values()) or 1
        people = {
            role: multiplier * self.baseline * self.pool.get(role, 0) / total for role in ROLES
        }
        return self.peak.total(people)
