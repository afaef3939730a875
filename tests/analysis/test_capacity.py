"""Load levels found in the user count, and the capacity verdict over them."""

from __future__ import annotations

from pathlib import Path

from chatload.analysis.capacity import find_steps, judge_capacity
from chatload.analysis.inputs import load_run
from chatload.analysis.replay import replay
from chatload.analysis.synthetic import SyntheticPlan, write_synthetic_run
from chatload.slo import parse_thresholds


def test_plateaus_held_long_enough_are_steps_with_their_settling_left_out() -> None:
    users = [(float(t), 10) for t in range(0, 30)]  # held 29 s
    users += [(30.0 + t, 15 + t) for t in range(5)]  # a ramp: no plateau
    users += [(35.0 + t, 20) for t in range(10)]  # held 9 s: too short
    users += [(45.0 + t, 30) for t in range(40)]
    users += [(85.0 + t, 0) for t in range(30)]  # stopped
    assert find_steps(users, min_hold=20, settle=5) == [(10, 5.0, 29.0), (30, 50.0, 84.0)]
    assert find_steps([], min_hold=20, settle=5) == []


def _capacity(step_run: Path, *slos: str) -> object:
    run = load_run(step_run)
    steps = find_steps(run.users, min_hold=20, settle=10)
    per_step = replay(run, [(start, end) for _, start, end in steps]).steps
    return judge_capacity(run, per_step, steps, parse_thresholds(slos))


def test_the_highest_passing_step_and_the_knee(step_run: Path) -> None:
    capacity = _capacity(step_run, "delivery p99 < 40ms", "send_ack p99 < 40ms")
    assert capacity is not None
    assert [step.users for step in capacity.steps] == [50, 100, 150, 200, 250]  # type: ignore[attr-defined]
    assert capacity.highest_passing.users == 150  # type: ignore[attr-defined]
    assert capacity.knee.users == 150 and capacity.knee_reached  # type: ignore[attr-defined]
    throughputs = [step.throughput for step in capacity.steps]  # type: ignore[attr-defined]
    assert throughputs == sorted(throughputs) and throughputs[0] > 0


def test_when_no_step_passes_and_when_every_step_does(step_run: Path) -> None:
    none = _capacity(step_run, "delivery p99 < 1ms")
    assert none.highest_passing is None  # type: ignore[attr-defined]
    assert none.text.startswith("No step meets every SLO, not even the first (50 users).")  # type: ignore[attr-defined]
    every = _capacity(step_run, "delivery p99 < 10s")
    assert every.highest_passing.users == 250  # type: ignore[attr-defined]


def test_a_run_without_steps_has_no_capacity_verdict(soak_run: Path) -> None:
    assert _capacity(soak_run, "delivery p99 < 40ms") is None


def test_steps_shorter_than_an_interval_are_not_judged(tmp_path: Path) -> None:
    # 15-second reporting intervals, steps held 20 s of which 10 s settle: no step
    # holds a whole interval, and the verdict says why instead of failing them.
    plan = SyntheticPlan(samples=20_000, seconds=60, interval=15, steps=(10, 20, 30))
    run = load_run(write_synthetic_run(tmp_path / "short", plan))
    steps = find_steps(run.users, min_hold=15, settle=10)
    per_step = replay(run, [(start, end) for _, start, end in steps]).steps
    capacity = judge_capacity(run, per_step, steps, parse_thresholds(["delivery p99 < 1s"]))
    assert capacity is not None and capacity.highest_passing is None
    assert not any(step.measured or step.passed for step in capacity.steps)
    assert capacity.text.startswith(
        "3 load level(s) (10, 20, 30 users) held no whole reporting interval of 15 s"
    )
    assert capacity.text.endswith("Fewer than two load levels were measured: no capacity verdict.")
