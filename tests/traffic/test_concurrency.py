"""Sessions at once, answering ones too, and the slots and people sized from them."""

from __future__ import annotations

import math

import pytest

from chatload.traffic.concurrency import AtOnce, Sizing, sessions_at_once
from chatload.traffic.default import default_model
from chatload.users_file import ROLES, Role

DEFAULT = default_model()
RATIO: dict[Role, float] = {"owner": 1, "requester": 3}  # --owner-weight, --requester-weight


def _own_arrivals_only(people: int, role: Role) -> float:
    model = DEFAULT.role(role)
    per_hour = people / 1000 * max(model.arrivals_per_hour)
    return per_hour * model.family("duration_s").mean() / 3600


def test_answering_sessions_count_and_people_scale_linearly() -> None:
    small = sessions_at_once(DEFAULT, {"owner": 1000, "requester": 3000}, chats_each=2)
    large = sessions_at_once(DEFAULT, {"owner": 4000, "requester": 12000}, chats_each=2)
    # People come back to answer: more at once than their own arrivals bring.
    assert small["owner"].mean > 1.5 * _own_arrivals_only(1000, "owner")
    assert small["requester"].mean > _own_arrivals_only(3000, "requester")
    for role in ROLES:
        assert large[role].mean == pytest.approx(4 * small[role].mean, rel=1e-9)
    assert sessions_at_once(DEFAULT, {}, chats_each=2)["owner"].mean == 0.0


def test_a_ceiling_is_four_poisson_deviations_over_the_mean() -> None:
    assert AtOnce(100.0).ceiling == pytest.approx(140.0)
    assert AtOnce(0.0).ceiling == 0.0


@pytest.mark.parametrize("slots", [50, 300, 600])
def test_the_people_sized_fill_the_slots_at_the_busiest_hour(slots: int) -> None:
    sizing = Sizing(DEFAULT, chats_each=2)
    people = sizing.people_for(slots, RATIO, most=100_000)
    owners = round(people / 4)
    population: dict[Role, int] = {"owner": owners, "requester": people - owners}
    needed = sum(sizing.slots_for(population).values())
    assert slots * 0.95 <= needed <= slots * 1.02  # the 1:3 split rounds
    # The headroom is real: the means alone leave room.
    means = sum(at_once.mean for at_once in sizing.at_once(population).values())
    assert means < slots - 2 * math.sqrt(slots)


def test_the_most_people_caps_the_sizing() -> None:
    assert Sizing(DEFAULT, chats_each=2).people_for(19_000, RATIO, most=100_000) == 100_000
    assert Sizing(DEFAULT, chats_each=2).people_for(10, RATIO, most=5) == 10  # never below -u
