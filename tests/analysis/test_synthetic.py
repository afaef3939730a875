"""Made-up runs are what they were asked to be, in the files a run writes."""

from __future__ import annotations

import csv
from pathlib import Path

from chatload.analysis.inputs import load_run
from chatload.analysis.synthetic import SyntheticPlan, write_synthetic_run
from tests.analysis.conftest import SOAK_PLAN, STEP_PLAN


def _summary(prefix: Path) -> dict[str, dict[str, str]]:
    with Path(f"{prefix}_chat_summary.csv").open(newline="") as handle:
        return {row["metric"]: row for row in csv.DictReader(handle)}


def test_exactly_the_samples_and_intervals_asked_for(soak_run: Path) -> None:
    summary = _summary(soak_run)
    assert sum(int(row["count"]) for row in summary.values()) == SOAK_PLAN.samples
    run = load_run(soak_run)
    assert len(run.series["send_ack"]) == SOAK_PLAN.seconds / SOAK_PLAN.interval
    assert run.interval_seconds == SOAK_PLAN.interval
    assert len(run.breaches) == SOAK_PLAN.breaches
    assert run.saturated and len(run.health) == 2 * len(run.series["send_ack"])


def test_steps_hold_their_user_counts(step_run: Path) -> None:
    counts = [users for _, users in load_run(step_run).users]
    hold = int(STEP_PLAN.seconds / len(STEP_PLAN.steps))
    assert counts == [users for users in STEP_PLAN.steps for _ in range(hold)]


def test_the_same_plan_gives_the_same_files(tmp_path: Path) -> None:
    plan = SyntheticPlan(samples=5_000, seconds=60, interval=5, seed=9)
    first = write_synthetic_run(tmp_path / "a" / "run", plan)
    second = write_synthetic_run(tmp_path / "b" / "run", plan)
    for name in ("chat_metrics", "chat_hdr", "invariants", "stats"):
        assert Path(f"{first}_{name}.csv").read_bytes() == Path(f"{second}_{name}.csv").read_bytes()
