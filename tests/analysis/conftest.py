"""Runs made up once per session: a soak with trouble in it, and a step run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chatload.analysis.synthetic import SyntheticPlan, write_synthetic_run

SOAK_PLAN = SyntheticPlan(
    samples=50_000, seconds=600, interval=5, users=100, breaches=3, saturated_share=0.05, seed=3
)
# Latency turns up steeply past 160 users: the 200 and 250 user steps break
# "delivery p99 < 40ms" (the first steps' p99 is about 12 ms).
STEP_PLAN = SyntheticPlan(
    samples=200_000,
    seconds=500,
    interval=5,
    steps=(50, 100, 150, 200, 250),
    knee_users=160,
    failure_ratio=0.0,
    seed=4,
)


@pytest.fixture(scope="session")
def soak_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("soak") / "soak", SOAK_PLAN)


@pytest.fixture(scope="session")
def step_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("step") / "step", STEP_PLAN)


def copy_run(prefix: Path, into: Path) -> Path:
    """A private copy of a session run's files, to spoil one of them."""
    into.mkdir(parents=True, exist_ok=True)
    for path in prefix.parent.glob(f"{prefix.name}_*.csv"):
        shutil.copy(path, into / path.name)
    return into / prefix.name
