"""Twelve short smoke runs kept in a history store: the server slowed at the ninth
is found there, and only there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatload.cli import main
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import headless, run_locust, small_dataset

RUNS = 12
SLOWED_FROM = 8  # the ninth run on: chatload serve --test-delay-ms 20


@pytest.mark.slow
@pytest.mark.serial  # the runs' own latencies must not move with a neighbour's load
@pytest.mark.timeout(600)
def test_a_slowed_server_is_found_at_its_first_run_and_only_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, kept_by_the_run = tmp_path / "store", tmp_path / "kept"
    (tmp_path / "data").mkdir()
    db, users = small_dataset(tmp_path / "data")

    def smoke(index: int, *target: str) -> None:
        prefix = tmp_path / f"run{index:02d}" / "smoke"
        done = run_locust(
            *target,
            *headless(10, "4s"),
            "--csv",
            str(prefix),
            "--only-summary",
            "--think-min",
            "0.1",
            "--think-max",
            "0.3",
            "--churn-share",
            "0",
            "--history-store",
            str(kept_by_the_run),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        commit = f"{index:02d}" * 6
        assert (
            main(
                [
                    "history",
                    "record",
                    str(prefix),
                    "--store",
                    str(store),
                    "--commit",
                    commit,
                    "--scenario",
                    "smoke",
                ]
            )
            == 0
        )

    for index in range(SLOWED_FROM):
        smoke(index)  # the embedded server
    with LaunchedServer(db, "--synchronous", "normal", "--test-delay-ms", "20") as server:
        for index in range(SLOWED_FROM, RUNS):
            smoke(index, "--host", server.url, "--users-file", str(users))
    capsys.readouterr()

    assert main(["history", "analyze", "--store", str(store), "--format", "json"]) == 1
    found = json.loads(capsys.readouterr().out)["change_points"]
    slowed = f"{SLOWED_FROM:02d}" * 6
    for point in found:
        # At the first slowed run; or, in a series that run did not measure (its few
        # history pages bound no p50), in the range of runs that holds it, said so.
        if point["runs_unmeasured"]:
            first, last = point["commits"].split("..")
            assert first < slowed < last and point["commit"] == last, point
        else:
            assert point["commit"] == point["commits"] == slowed, point
    by_series = {point["series"]: point for point in found}
    assert "smoke:send_ack.p50_ms" in by_series, sorted(by_series)
    send_ack = by_series["smoke:send_ack.p50_ms"]
    assert send_ack["regression"] and send_ack["after"] > 20 > send_ack["before"]
    assert (send_ack["runs_before"], send_ack["runs_after"]) == (SLOWED_FROM, RUNS - SLOWED_FROM)
    # --history-store kept every run too, with the run's options hashed.
    kept = [json.loads(p.read_text("utf-8")) for p in (kept_by_the_run / "runs").glob("*.json")]
    assert len(kept) == RUNS
    assert {summary["run"]["scenario"] for summary in kept} == {"smoke"}
    assert all(summary["run"]["options_sha256"] for summary in kept)
