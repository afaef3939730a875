"""Runs that follow a traffic model: open arrivals at the model's rate, the people's
decisions drawn from it, the proof written and read, and the run's own database
fitted back to the model it ran."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import pytest

from chatload.provision import ProvisionPlan
from chatload.traffic.exportfiles import read_db
from chatload.traffic.fit import fit_model
from chatload.users_file import ROLES
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
@pytest.mark.timeout(900)
def test_a_model_run_follows_its_model_and_proves_it(tmp_path: Path) -> None:
    # What every run must show is asserted in each; what is drawn (the distances and
    # shares of a few hundred values, each bound where chance stays 999 times in 1,000:
    # some 20 such bounds, so a run that follows its model strays somewhere in one run
    # of 50; the fitted-back shares and family) strays now and then, and a run where
    # it did is measured once more: a generator that does not follow its model strays
    # in both. Seen: the owners' first-hour turn share to the other side at 0.47 and
    # 0.50 (n about 480, model 0.55) in two runs of ten here and 0.467 in CI, every
    # turn of those runs written as its draw decided (docs/traffic.md, "Known gaps").
    misses = _follows_its_model(tmp_path / "first")
    if misses:
        again = _follows_its_model(tmp_path / "again")
        assert not again, (misses, again)


def _follows_its_model(directory: Path) -> list[str]:
    """One model run: its must-haves asserted, its chance-bound figures out of bound
    returned."""
    directory.mkdir()
    run = _model_run(directory, 120)
    assert_nothing_lost(run)
    intervals = _rows(directory / "run_traffic_intervals.csv")
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
    proof = {row["quantity"]: row for row in _rows(directory / "run_traffic.csv")}
    for role in ("owner", "requester"):
        assert int(proof[f"{role}.next_other"]["n"]) >= 100  # turns were counted
    assert "Trust: " in run.stderr and ("traffic" in run.stderr.split("Trust: ")[-1])
    # The proof saw the messages the server stored: one acknowledged after its writer's
    # time was up is the model's too (its turn decided), not a silent end.
    export = read_db(directory / "chat.db", time_scale=60)
    proven = len(_rows(directory / "run_traffic_messages.csv"))
    assert 0 <= len(export.created) - proven <= 0.002 * proven, (len(export.created), proven)
    misses = []
    for row in proof.values():
        if not row["D"]:
            continue  # no model value, or no values
        n, d = int(row["n"]), float(row["D"])
        if row["family"] == "share":
            p = float(row["model_p50"])
            chance = 3.29 * math.sqrt(p * (1 - p) / n)  # 999 times in 1,000
        else:
            chance = 1.95 / math.sqrt(n)  # the KS distance's 99.9 % point
        # D <= 0.05, or what chance alone stays within 999 times in 1,000 on this few.
        if d > max(0.05, chance):
            misses.append(f"{row['quantity']}: D {d} at n {n}")
    for role in ("owner", "requester"):
        for quantity in ("text_length", "photo_share", "page_back_share"):
            if proof[f"{role}.{quantity}"]["verdict"] != "matches":
                misses.append(f"{role}.{quantity}: {proof[f'{role}.{quantity}']}")
    # The run's own database, fitted back: the messages agree with the model it ran.
    back = fit_model(export, burst_gap_s=KNOWN_HOURLY.burst_gap_s, base=KNOWN_HOURLY).model
    for side in ROLES:
        got, want = back.role(side), KNOWN_HOURLY.role(side)
        for scalar, within in (("next_other", 0.06), ("photo_share", 0.03)):
            if abs(got.scalar(scalar) - want.scalar(scalar)) > within:
                misses.append(f"fitted back {side}.{scalar}: {got.scalar(scalar):.3f}")
        # The family is chosen by the fit (a few hundred gaps whose best family lies
        # over 0.03 from them fall back to their own quantiles): drawn too.
        fitted, truth = got.family("reply_gap_s"), want.family("reply_gap_s")
        if not fitted.name == truth.name == "lognormal_mixture":
            misses.append(f"fitted back {side}.reply_gap_s: {fitted.name}")
        elif abs(fitted.params["mu1"] - truth.params["mu1"]) > 0.15:
            misses.append(f"fitted back {side}.reply_gap_s mu1: {fitted.params['mu1']:.3f}")
    if misses:
        misses.append(f"trust: {run.stderr.split('Trust: ')[-1][:300]}")
    return misses


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
