"""Clock offsets from exchanges, fed numbers."""

from __future__ import annotations

import pytest

from chatload.tracking.clocks import ClockEstimator, Exchange, Offset, Offsets
from chatload.tracking.ledger import Ledger
from chatload.tracking.marker import MarkerFactory


def test_the_shortest_round_trip_gives_the_estimate() -> None:
    estimator = ClockEstimator()
    assert estimator.estimate is None
    # This process runs 50 ms ahead of the master; one-way delays vary.
    for out, back in ((0.004, 0.001), (0.0004, 0.0006), (0.010, 0.002)):
        t1 = 100.0
        t2 = t1 - 0.050 + out  # the master's clock when it answered
        t4 = t1 + out + back
        estimator.add(Exchange(t1, t2, t4))
    estimate = estimator.estimate
    assert estimate is not None
    assert estimate.uncertainty == pytest.approx(0.0005)
    assert estimate.offset == pytest.approx(0.050, abs=estimate.uncertainty)


def test_old_exchanges_make_way_for_new_ones() -> None:
    estimator = ClockEstimator(kept=3)
    estimator.add(Exchange(0.0, 0.0, 0.0001))  # excellent, but about to be forgotten
    for n in range(3):
        estimator.add(Exchange(10.0 + n, 10.0 + n - 0.2, 10.0 + n + 0.002))  # drifted
    estimate = estimator.estimate
    assert estimate is not None and estimate.offset == pytest.approx(0.201)


def test_a_remote_wall_time_on_our_clock() -> None:
    offsets = Offsets()
    offsets.origin = "me"
    offsets.own = Offset(0.010, 0.0002)  # we run 10 ms ahead of the master
    offsets.update("them", Offset(-0.040, 0.0003))  # they run 40 ms behind it
    # Their 1000.000 is the master's 1000.040, which is our 1000.050.
    assert offsets.to_local("them", 1000.0) == pytest.approx(1000.050)
    assert offsets.to_local("me", 1000.0) == 1000.0
    assert offsets.to_local("unknown", 1000.0) == pytest.approx(1000.010)
    assert offsets.uncertainty("them") == pytest.approx(0.0005)


def test_a_delivery_from_a_skewed_process_is_timed_right() -> None:
    from tests.tracking.test_tracker import OWNER, REQUESTER, only, send, tracker, updates, with_id

    sender_ledger = Ledger(MarkerFactory("sender"))
    receiver_ledger = Ledger(MarkerFactory("receiver"))
    receiver_ledger.offsets.update("sender", Offset(0.050, 0.0001))  # its clock 50 ms ahead
    requester = tracker(REQUESTER, sender_ledger)
    owner = tracker(OWNER, receiver_ledger)
    _, draft, _ = send(requester, now=1.0, wall=5000.050)  # the master's 5000.000
    [sample] = [s for s in owner.frame(updates(with_id(draft, 1)), 10, 77.0, 5000.012) if s.metric]
    delivery = only([sample], "delivery")
    assert delivery.seconds == pytest.approx(0.012)
    assert delivery.cross_process
