"""The run's arrival process: the arrivals expected follow a search's scale history,
and a rise brings the sessions its past has open."""

from __future__ import annotations

import time

import gevent
import pytest

from chatload.loadgen.engine.arrival_source import ArrivalSource
from chatload.traffic.carry_over import CarriedTurns
from chatload.traffic.default import default_model
from chatload.users_file import Role

POOL: dict[Role, int] = {"owner": 1000, "requester": 3000}


def _source(**kwargs: object) -> ArrivalSource:
    return ArrivalSource(
        default_model(),
        POOL,
        lambda role: None,
        time_scale=1.0,
        start_hour=19.0,
        start_wall=1000.0,
        frozen=True,
        **kwargs,  # type: ignore[arg-type]
    )


def test_expected_arrivals_follow_the_scale_of_each_moment() -> None:
    source = _source(scale=2.0)
    per_s = {
        role: POOL[role] / 1000 * default_model().role(role).arrivals_per_hour[19] / 3600
        for role in POOL
    }
    expected = source.expected(1000.0, 1060.0)
    for role in POOL:
        assert expected[role] == pytest.approx(2.0 * 60 * per_s[role])
    source.scales.set(1060.0, 5.0)
    later = source.expected(1030.0, 1090.0)  # 30 s at 2x, 30 s at 5x
    for role in POOL:
        assert later[role] == pytest.approx((2.0 * 30 + 5.0 * 30) * per_s[role])
    assert source.expected(900.0, 1000.0) == {"owner": 0.0, "requester": 0.0}  # before it


def test_a_rise_owes_the_sessions_its_past_has_open_and_a_fall_none() -> None:
    owed: list[tuple[Role, str]] = []
    carried = CarriedTurns([], {"owner": 40.0, "requester": 100.0})
    source = _source(scale=0.0, carried=(carried, lambda role, what: owed.append((role, what))))
    source.scale_to(3.0)  # not started: no greenlet, only the sessions owed
    owners = sum(1 for role, what in owed if role == "owner" and what == "session")
    requesters = sum(1 for role, what in owed if role == "requester")
    # Poisson counts of means 120 and 300: within 4 standard deviations.
    assert abs(owners - 120) < 4 * 120**0.5 and abs(requesters - 300) < 4 * 300**0.5
    owed.clear()
    source.scale_to(1.0)
    assert owed == []
    assert source.scales.at(time.time()) == 1.0
    # Known to be open already: only what the steady state lacks (4x: 560, 500 open).
    source.scale_to(4.0, open_now=500.0)
    assert abs(len(owed) - 60) < 4 * 60**0.5 and {what for _, what in owed} == {"session"}


def test_a_rise_gives_its_sessions_out_at_its_pace_and_a_new_level_stops_them() -> None:
    owed: list[float] = []
    carried = CarriedTurns([], {"owner": 40.0, "requester": 100.0})
    source = _source(scale=0.0, carried=(carried, lambda role, what: owed.append(time.monotonic())))
    started = time.monotonic()
    source.scale_to(0.5, pace=200.0)  # about 70 sessions: a third of a second
    assert not source.ramped and len(owed) <= 1
    deadline = time.monotonic() + 10
    while not source.ramped:
        assert time.monotonic() < deadline, len(owed)
        gevent.sleep(0.02)
    assert abs(len(owed) - 70) < 4 * 70**0.5
    # The last one came when the pace says, not at once.
    assert owed[-1] - started == pytest.approx((len(owed) - 1) / 200.0, abs=0.1)
    owed.clear()
    source.scale_to(10.0, pace=1.0)  # 1,400 at one a second: cut by the next level
    source.scale_to(0.1)
    gevent.sleep(1.5)
    assert len(owed) <= 2 and source.ramped
