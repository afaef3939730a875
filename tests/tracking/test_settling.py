"""When the end of a run has settled, fed counts and clocks."""

from __future__ import annotations

from chatload.tracking.settling import GRACE_SECONDS, Settling, quiet_window


def test_nothing_owed_settles_after_the_grace() -> None:
    settling = Settling(0.0, bound=60.0, quiet=5.0)
    assert settling.step(0.1, frames=10, owed=3, pending=1) is None
    assert settling.step(0.2, frames=12, owed=0, pending=0) is None
    assert settling.step(0.2 + GRACE_SECONDS - 0.01, frames=12, owed=0, pending=0) is None
    assert settling.step(0.201 + GRACE_SECONDS, frames=12, owed=0, pending=0) == "settled"


def test_answers_still_arriving_keep_it_waiting_until_the_bound() -> None:
    settling = Settling(0.0, bound=10.0, quiet=2.0)
    for tenth in range(1, 100):
        assert settling.step(tenth / 10, frames=tenth, owed=5, pending=0) is None
    assert settling.step(10.0, frames=100, owed=5, pending=0) == "bound"


def test_silence_with_something_owed_is_quiet_once_the_slowest_answer_had_its_time() -> None:
    settling = Settling(0.0, bound=60.0, quiet=5.0)
    assert settling.step(0.5, frames=7, owed=1, pending=0) is None
    assert settling.step(2.0, frames=7, owed=1, pending=0) is None, "silent, but too soon"
    assert settling.step(4.9, frames=8, owed=1, pending=0) is None
    assert settling.step(5.5, frames=8, owed=1, pending=0) is None, "something just came"
    assert settling.step(5.9, frames=8, owed=1, pending=0) == "quiet"


def test_a_request_still_in_time_is_waited_for_even_in_silence() -> None:
    settling = Settling(0.0, bound=60.0, quiet=1.0)
    assert settling.step(0.1, frames=1, owed=1, pending=1) is None
    assert settling.step(5.0, frames=1, owed=1, pending=1) is None
    assert settling.step(5.1, frames=1, owed=1, pending=0) == "quiet"


def test_the_quiet_window_follows_the_slowest_answer() -> None:
    assert quiet_window(0.01, 60.0) == 1.0
    assert quiet_window(12.0, 60.0) == 18.0
    assert quiet_window(100.0, 60.0) == 60.0


def test_at_the_bound_a_silent_process_is_quiet_even_with_requests_in_time() -> None:
    settling = Settling(0.0, bound=2.0, quiet=2.0)
    assert settling.step(0.5, frames=3, owed=2, pending=1) is None
    assert settling.step(2.0, frames=3, owed=2, pending=1) == "quiet"
    busy = Settling(0.0, bound=2.0, quiet=2.0)
    assert busy.step(0.5, frames=3, owed=2, pending=1) is None
    assert busy.step(1.5, frames=4, owed=2, pending=1) is None
    assert busy.step(2.0, frames=4, owed=2, pending=1) == "bound"
