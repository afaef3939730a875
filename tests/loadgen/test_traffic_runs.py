"""Runs that follow a traffic model: open arrivals at the model's rate, the people's
decisions drawn from it, the proof written and read, and the run's own database
fitted back to the model it ran."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import pytest
from scipy import stats

from chatload.provision import ProvisionPlan
from chatload.traffic.exportfiles import read_db
from chatload.traffic.fit import fit_model
from tests.loadgen.edge import Outcome, assert_nothing_lost, run_against
from tests.traffic.known import KNOWN

PLAN = ProvisionPlan(owners=300, requesters=1200, chats_per_requester=4, history=20, layout="local")


# A burst gap of an hour: a two-hour run (at 60 times) then settles its first hour's
# turns (a turn is counted once a burst gap passed without its next message).
KNOWN_HOURLY = dataclasses.replace(KNOWN, burst_gap_s=3600.0)


def _model_run(
    tmp_path: Path, seconds: int, server_args: tuple[str, ...] = (), *extra: str
) -> Outcome:
    """The known model at 60 times from 17:00, for these people, up to 560 at once
    (its busiest hour needs about 460 slots for them; a slower machine's sessions last
    longer than drawn, by their connect and their last acknowledgements, and once in CI
    500 dropped one)."""
    model = tmp_path / "known.json"
    KNOWN_HOURLY.write(model)
    return run_against(
        tmp_path,
        server_args,
        *("--headless", "-u", "560", "-r", "280", "-t", f"{seconds}s"),
        *("--traffic-model", str(model), "--time-scale", "60", "--traffic-start-hour", "17"),
        *extra,
        plan=PLAN,
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.serial  # late actions and D at 60 times: no other load beside it
@pytest.mark.timeout(600)
def test_a_model_run_follows_its_model_and_proves_it(tmp_path: Path) -> None:
    run = _model_run(tmp_path, 120)
    assert_nothing_lost(run)
    intervals = _rows(tmp_path / "run_traffic_intervals.csv")
    for role in ("owner", "requester"):
        mine = [row for row in intervals if row["role"] == role]
        expected = sum(float(row["expected_arrivals"]) for row in mine)
        offered = sum(int(row["offered"]) for row in mine)
        # Open arrivals: a Poisson count, within 4 standard deviations of the model's.
        assert abs(offered - expected) <= 4 * math.sqrt(expected), (role, offered, expected)
        assert sum(int(row["dropped"]) for row in mine) == 0
        # Every turn of someone offline found a slot to come back in (one that did not
        # ends its burst early: the turn shares below would move, and not by chance).
        assert sum(int(row["answering_dropped"]) for row in mine) == 0, role
        actions = sum(int(row["actions"]) for row in mine)
        assert sum(int(row["late_actions"]) for row in mine) <= 0.01 * actions
        assert sum(int(row["answering"]) for row in mine) > 0  # people came back to answer
    proof = {row["quantity"]: row for row in _rows(tmp_path / "run_traffic.csv")}
    judged = [row for row in proof.values() if row["D"]]  # a model value, and values
    # What chance alone stays within 999 times in 1,000 for the whole table (about 24
    # rows, each at 1 - 0.001 / 24). At 0.999 a row, a run that follows its model
    # fails a row in about one run of 50 (some 20 rows are bound by chance, not by
    # 0.05): in CI one did, a turn share 0.083 off at n 503, where every turn of three
    # runs here was written as its draw decided.
    alpha = 0.001 / len(judged)
    z = float(stats.norm.isf(alpha / 2))
    ks = math.sqrt(math.log(2 / alpha) / 2)  # the KS distance's point, times sqrt(n)
    for row in judged:
        n, d = int(row["n"]), float(row["D"])
        if row["family"] == "share":
            p = float(row["model_p50"])
            chance = z * math.sqrt(p * (1 - p) / n)
        else:
            chance = ks / math.sqrt(n)
        # D <= 0.05, or what chance alone stays within on this few.
        assert d <= max(0.05, chance), (row, run.stderr.split("Trust: ")[-1][:400])
    for role in ("owner", "requester"):
        for quantity in ("text_length", "photo_share", "page_back_share"):
            assert proof[f"{role}.{quantity}"]["verdict"] == "matches", proof[f"{role}.{quantity}"]
        assert int(proof[f"{role}.next_other"]["n"]) >= 100  # turns were counted
    assert "Trust: " in run.stderr and ("traffic" in run.stderr.split("Trust: ")[-1])
    # The run's own database, fitted back: the messages agree with the model it ran.
    export = read_db(tmp_path / "chat.db", time_scale=60)
    # And the proof saw the messages the server stored: one acknowledged after its
    # writer's time was up is the model's too (its turn decided), not a silent end.
    proven = len(_rows(tmp_path / "run_traffic_messages.csv"))
    assert 0 <= len(export.created) - proven <= 0.002 * proven, (len(export.created), proven)
    back = fit_model(export, burst_gap_s=KNOWN_HOURLY.burst_gap_s, base=KNOWN_HOURLY).model
    for role in ("owner", "requester"):
        got, want = back.role(role), KNOWN_HOURLY.role(role)
        assert got.scalar("next_other") == pytest.approx(want.scalar("next_other"), abs=0.06)
        assert got.scalar("photo_share") == pytest.approx(want.scalar("photo_share"), abs=0.03)
        fitted, truth = got.family("reply_gap_s"), want.family("reply_gap_s")
        assert fitted.name == truth.name == "lognormal_mixture"
        assert fitted.params["mu1"] == pytest.approx(truth.params["mu1"], abs=0.15)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_model_run_keeps_its_arrivals_against_a_server_past_its_capacity(
    tmp_path: Path,
) -> None:
    # Uncapped, the known model at 60 times has these people send about 28 messages a
    # second (the test above: 3,372 in 120 s); this server serves 10. Replies wait for
    # what they answer, so the messages sent fall to what the server serves and
    # latency grows; the arrivals must not slow down with it.
    capacity = 10
    run = _model_run(
        tmp_path,
        60,
        ("--test-capacity", str(capacity)),
        "--answer-timeout",
        "5",
        "--quiesce-seconds",
        "150",  # the backlog of a minute at twice the capacity takes a minute to drain
    )
    assert_nothing_lost(run)
    sent = run.figure("send_ack", "count") / 60
    assert sent <= 1.2 * capacity, f"not the bottleneck: {sent:.1f} messages/s"
    assert run.figure("send_ack", "p50_ms") > 500  # against about 1 ms uncapped
    assert run.figure("send_ack", "p99_ms") > 5000  # slower than the answer timeout
    intervals = _rows(tmp_path / "run_traffic_intervals.csv")
    for role in ("owner", "requester"):
        mine = [row for row in intervals if row["role"] == role]
        expected = sum(float(row["expected_arrivals"]) for row in mine)
        offered = sum(int(row["offered"]) for row in mine)
        # Open arrivals whatever the latency: within 5 % of the model, or within what
        # a Poisson count strays by chance (4 standard deviations) on this few.
        allowed = max(0.05 * expected, 4 * math.sqrt(expected))
        assert abs(offered - expected) <= allowed, (role, offered, expected)
        started = sum(int(row["started"]) for row in mine)
        dropped = sum(int(row["dropped"]) for row in mine)
        # Every arrival started a session or was dropped and counted (a few handed out
        # as the run wound down did neither).
        assert 0 <= offered - started - dropped <= 5, (role, offered, started, dropped)
    dropped_total = sum(int(row["dropped"]) for row in intervals)
    trust = run.stderr.split("Trust: ")[-1]
    assert ("dropped" in trust) == (dropped_total > 0), trust
