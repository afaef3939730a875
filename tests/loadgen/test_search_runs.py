"""--shape search against the reference server: a capacity cap is found where the
cap and the SLO put it; a generator that cannot keep up is named as the limit."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from chatload.analysis.report import write_report
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
        "--search-confirm",  # the answer held once more at the end
        scrape=True,
        plan=ProvisionPlan(owners=40, requesters=160, history=20, layout="local"),
    )
    # Users stopped between levels may leave a send stored but unacknowledged: the
    # database is not checked against the acknowledgements here, the breaches are.
    assert run.breaches == []
    assert run.returncode == 0, run.stderr[-3000:]
    answer = _answer(tmp_path)
    levels = answer["levels"]
    # Each user's own rate, from the calm levels: the cap allows CAP / rate users.
    # A p90 of 250 ms (7.5 times the 33 ms a message takes) holds up to a load between
    # 84 % of the cap (where an M/D/1 queue, Poisson arrivals, reaches it) and the cap
    # itself: people who wait for their answer before the next message arrive less
    # burstily than Poisson. The middle of the two, 92 %, is what cap and SLO imply.
    # The rate is pooled over every level that held: the first alone (40 users, 90-odd
    # messages in 10 s) put a user's rate 15 % apart in two runs, and the levels under
    # 80 % of the answer were often that one alone (in CI: 0.19 messages/s a user where
    # this machine's runs measure 0.217, and an answer of 122 users judged against 145
    # implied). Under the SLO a person's answer comes within 250 ms at p90, in a cycle
    # of 4-5 s between messages: a queue slows them by a few % at most.
    assert levels[0]["holds"], levels[0]
    calm = [lv for lv in levels if lv["holds"]]
    sent = sum(lv["messages_per_s"] * lv["seconds"] for lv in calm)
    implied = 0.92 * CAP_PER_S / (sent / sum(lv["users"] * lv["seconds"] for lv in calm))
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
    # The SLOs judged as every run's are, at the answer's level: they hold there. The
    # p90 there is near its threshold (the answer is the capacity's edge), and where the
    # answer's holds, pooled, cannot tell it from 250 ms at 95 % it is NOT JUDGED, as
    # docs/reports.md says (seen in CI: the answer's level undecided, counted as holding
    # by the search); never FAIL.
    with (tmp_path / "run_slo.csv").open(newline="") as handle:
        slo = {row["threshold"]: row["verdict"] for row in csv.DictReader(handle)}
    assert slo["invariant breaches == 0"] == "PASS"
    assert slo["send_ack p90 < 250ms"] in ("PASS", "NOT JUDGED"), slo
    assert len(slo) == 2
    holds = [lv for lv in levels if lv["users"] == answer["users"] and lv["holds"]]
    if all(lv["verdict"] == "holds" for lv in holds):  # each hold decided: so are they all
        assert slo["send_ack p90 < 250ms"] == "PASS", holds
    # One capacity verdict in the report, the search's, and the run's SLO verdicts.
    page = write_report(tmp_path / "run", tmp_path / "report").read_text(encoding="utf-8")
    assert "<h2>Capacity search</h2>" in page and "Capacity verdict" not in page
    assert "every SLO holds" in page and "No SLO thresholds" not in page


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


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_search_cut_short_answers_with_what_it_found(tmp_path: Path) -> None:
    # The cap allows about 140 users; 25 s hold a level or two, not the whole search
    # (40 s in all, measured).
    run = run_against(
        tmp_path,
        ("--test-capacity", str(CAP_PER_S)),
        "--headless",
        "-t",
        "25s",
        "--shape",
        "search",
        "--search-start-users",
        "20",
        "--search-hold",
        "10",
        "--chat-interval",
        "2",
        "--slo",
        "send_ack p90 < 250ms",
        "--capacity-at-least",
        "1000",
        # What is looked at is the cut, not the generator: beside the parallel tests a
        # stall of this shared machine's loop marked the first level saturated once.
        "--saturation-lag-ms",
        "250",
        plan=ProvisionPlan(owners=40, requesters=160, history=20, layout="local"),
    )
    assert run.breaches == []
    answer = _answer(tmp_path)
    assert (answer["complete"], answer["limited_by"]) == (False, "time"), answer
    held = [level["users"] for level in answer["levels"] if level["holds"]]
    failed = [level["users"] for level in answer["levels"] if not level["holds"]]
    assert held, answer  # 40 s reach past the first level
    assert answer["holds_at"] == answer["users"] == max(held)
    assert answer["fails_at"] == min(failed, default=None)
    line = next(line for line in run.stderr.splitlines() if line.startswith("Capacity: "))
    assert f"the capacity is at least {answer['users']}" in line
    # Cut short below --capacity-at-least: the gate is not met (exit 1), said so.
    assert "Capacity below --capacity-at-least 1000 (the search was cut short" in run.stderr
    assert run.returncode == 1, run.stderr[-2000:]
    page = write_report(tmp_path / "run", tmp_path / "report").read_text(encoding="utf-8")
    assert f"cut short before its resolution: at least {answer['users']:,} users" in page


MODEL_CAP_PER_S = 10.0


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_model_search_answers_in_multiples_of_the_models_busiest_hour(tmp_path: Path) -> None:
    # The default model's busiest hour sends 0.103 messages/s per 1,000 people: a
    # server that serves 10 a second holds at most 97x of it, and a p90 under 1 s (ten
    # times the 100 ms a message takes) holds to 8.8 of them with open arrivals: 85.7x
    # (docs/benchmarks.md, "In production units").
    run = run_against(
        tmp_path,
        ("--test-capacity", str(MODEL_CAP_PER_S)),
        "--headless",
        "--traffic-model",
        "default",
        "--shape",
        "search",
        "--search-start-users",
        "150",
        "--search-hold",
        "10",
        "--chat-interval",
        "2",
        "--slo",
        "send_ack p90 < 1s",
        "--slo",
        "invariant breaches == 0",
        "-t",
        "4m",
        # A level's rise connects its sessions at once (those its past has open), a
        # burst that lags this shared machine's loop for tens of ms; the generator's
        # own limit is not what this test looks at.
        "--saturation-lag-ms",
        "250",
        plan=ProvisionPlan(owners=1000, requesters=3000, history=2, layout="local"),
    )
    assert run.breaches == []
    assert run.returncode == 0, run.stderr[-3000:]
    answer = _answer(tmp_path)
    peak = answer["model_peak"]
    assert peak["people"] == 1000 and peak["messages_per_s"] > 0
    levels = answer["levels"]
    assert all(level["multiplier"] > 0 for level in levels)
    assert answer["limited_by"] in ("server", "time"), answer
    # The load levels grow from a fraction of the cap, and the lowest failing one
    # carried the cap (its messages waited in the server's queue).
    failing = [level for level in levels if not level["holds"]]
    assert failing and max(level["messages_per_s"] for level in failing) >= 0.8 * MODEL_CAP_PER_S
    held = next(level for level in levels if level["users"] == answer["users"])
    # The answer's level sent what the model sends at its multiplier (its conversations
    # carried over from before it: a cold level would send under half), and its
    # multiplier times the model's rate is within the cap.
    expected = held["multiplier"] * peak["messages_per_s"]
    assert 0.6 * expected <= held["messages_per_s"] <= 1.6 * expected, (held, peak)
    assert held["concurrent_sessions"] > 0 and held["sessions_per_s"] > 0
    assert 0.3 * MODEL_CAP_PER_S <= expected <= 1.15 * MODEL_CAP_PER_S, (answer["multiplier"], peak)
    line = next(line for line in run.stderr.splitlines() if line.startswith("Capacity: "))
    assert line.startswith(
        f"Capacity: {answer['multiplier']:.3g}x the traffic model's busiest hour ("
    )
