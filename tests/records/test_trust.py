"""The trust line's traffic sentence: what a model run's proof found, said once."""

from __future__ import annotations

from chatload.records.trust import Trust


def test_a_think_time_run_says_nothing_of_traffic() -> None:
    assert "traffic" not in Trust().line().lower()


def test_the_traffic_sentence_says_what_differs_and_what_was_dropped() -> None:
    assert Trust(traffic_judged=True).line().endswith(" The traffic matched the model.")
    differs = Trust(traffic_judged=True, traffic_differs=[f"owner.q{n}" for n in range(6)])
    assert differs.line().endswith(
        "at the end. The traffic differs from the model in owner.q0, owner.q1, owner.q2, "
        "owner.q3 and 2 more (D > 0.05)."
    )
    dropped = Trust(traffic_judged=True, traffic_dropped=7).line()
    assert dropped.endswith(" 7 sessions the model offered were dropped (no free user).")
    both = Trust(traffic_judged=True, traffic_differs=["owner.pages"], traffic_dropped=3)
    assert both.line().endswith(
        " The traffic differs from the model in owner.pages (D > 0.05); 3 sessions the "
        "model offered were dropped (no free user)."
    )


def test_turns_no_one_came_back_for_are_said_apart_from_dropped_sessions() -> None:
    line = Trust(traffic_judged=True, traffic_dropped=2, traffic_unanswered=5).line()
    assert line.endswith(
        " 2 sessions the model offered were dropped (no free user); 5 turns went unwritten:"
        " their writers were offline and no user was free to come back for them (their"
        " bursts ended early)."
    )
    assert "dropped" not in Trust(traffic_judged=True, traffic_unanswered=1).line()
