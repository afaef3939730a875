"""A window's sessions, from a model run's merged intervals: those begun, those open
at once, and the share of the arrivals dropped (a model search's level fails past 1 %)."""

from __future__ import annotations

from chatload.records.intervals import MergedInterval
from chatload.records.windows import Window
from chatload.traffic.batch import OPEN_SESSIONS, TrafficBatch


def _interval(start: float, counts: dict[str, int] | None) -> MergedInterval:
    traffic = None if counts is None else TrafficBatch(counts=counts)
    return MergedInterval(start, start + 5.0, {}, {}, (), traffic)


def test_a_window_counts_sessions_begun_open_and_arrivals_dropped() -> None:
    window = Window(start=10.0)
    window.add_interval(_interval(5.0, {"owner.started": 50}))  # before it: left out
    window.add_interval(
        _interval(
            10.0,
            {
                "owner.started": 3,
                "requester.answering": 2,
                "requester.resumed": 9,  # under way from the past: not begun here
                OPEN_SESSIONS: 40,
                "owner.offered": 4,
                "owner.dropped": 1,
            },
        )
    )
    window.add_interval(
        _interval(15.0, {"owner.started": 5, OPEN_SESSIONS: 60, "owner.offered": 96})
    )
    assert window.sessions_begun == 10
    assert window.sessions_at_once() == 50.0
    assert (window.arrivals_offered, window.arrivals_dropped) == (100, 1)
    assert window.dropped_share() == 0.01
    window.add_interval(_interval(20.0, {"owner.offered": 10, "owner.dropped": 2}))
    assert window.dropped_share() == 3 / 110


def test_a_run_without_a_model_has_no_sessions_to_count() -> None:
    window = Window()
    window.add_interval(_interval(0.0, None))
    assert window.sessions_at_once() is None and window.dropped_share() == 0.0
