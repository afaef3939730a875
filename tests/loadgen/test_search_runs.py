"""--shape search against the reference server: a capacity cap is found where the
cap and the SLO put it; a generator that cannot keep up is named as the limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatload.provision import ProvisionPlan
from tests.loadgen.edge import run_against

CAP_PER_S = 30.0


def _answer(root: Path) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads((root / "run_capacity.json").read_text())
    return answer


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.timeout(600)
def test_the_search_finds_a_capped_servers_capacity(tmp_path: Path) -> None:
    run = run_against(
        tmp_path,
        ("--test-capacity", str(CAP_PER_S)),
        "--headless",
        "--shape",
        "search",
        "--search-start-users",
        "40",
        "--search-hold",
        "10",
        "--slo",
        "send_ack p90 < 250ms",
        "--slo",
        "invariant breaches == 0",
        scrape=True,
        plan=ProvisionPlan(owners=40, requesters=160, history=20, layout="local"),
    )
    # Users stopped between levels may leave a send stored but unacknowledged: the
    # database is not checked against the acknowledgements here, the breaches are.
    assert run.breaches == []
    assert run.returncode == 0, run.stderr[-3000:]
    answer = _answer(tmp_path)
    levels = answer["levels"]
    # Each user's own rate, from the calm first level: the cap allows CAP / rate users.
    # A p90 of 250 ms (7.5 times the 33 ms a message takes) holds up to a load between
    # 84 % of the cap (where an M/D/1 queue, Poisson arrivals, reaches it) and the cap
    # itself: people who wait for their answer before the next message arrive less
    # burstily than Poisson. The middle of the two, 92 %, is what cap and SLO imply.
    calm = levels[0]
    assert calm["holds"], calm
    implied = 0.92 * CAP_PER_S / (calm["messages_per_s"] / calm["users"])
    assert answer["limited_by"] == "server", answer
    assert 0.85 * implied <= answer["users"] <= 1.15 * implied, (implied, answer)
    assert answer["messages_per_s"] <= CAP_PER_S * 1.05
    assert answer["first_failing"]["slo"] == "send_ack p90 < 250ms"
    line = next(line for line in run.stderr.splitlines() if line.startswith("Capacity: "))
    assert line.startswith(f"Capacity: {answer['users']} users, ")
    assert "send_ack p90 < 250ms broke first" in line
    assert levels[-1]["users"] == answer["users"] and levels[-1]["holds"]  # confirmed
    assert all(level["server_cpu_percent"] is not None for level in levels)
    assert len(levels) <= 10


@pytest.mark.slow
def test_a_generator_that_cannot_keep_up_is_named_the_limit(tmp_path: Path) -> None:
    run = run_against(
        tmp_path,
        (),
        "--headless",
        "--shape",
        "search",
        "--search-start-users",
        "2",
        "--search-hold",
        "5",
        "--chat-interval",
        "1",
        "--think-min",
        "0",
        "--think-max",
        "0.002",
        "--slo",
        "send_ack p99 < 5s",
    )
    assert run.breaches == []
    assert run.returncode == 0, run.stderr[-3000:]
    answer = _answer(tmp_path)
    assert answer["limited_by"] == "generator", answer
    saturated = answer["levels"][-1]
    assert saturated["generator_saturated"]
    assert (
        f"limited by the generator (saturated at {saturated['users']} users): add workers"
        in run.stderr
    )
