"""Requests whose outcome is unknown: a server that stalls, a server that dies and
comes back. Failures are counted by kind; nothing is called a breach that the
server did not break; the run ends on time."""

from __future__ import annotations

import csv
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chatload.provision import ProvisionPlan
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import ROOT, locust_command, small_dataset

RUN_SECONDS = 24
ANSWER_TIMEOUT = 4


def _dataset(root: Path) -> tuple[Path, Path]:
    return small_dataset(root, ProvisionPlan(owners=5, requesters=15, history=20, layout="local"))


def _run_with(
    root: Path, server: LaunchedServer, users: Path, trouble: Callable[[], None]
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    run = subprocess.Popen(
        locust_command(
            "--headless",
            "-u",
            "20",
            "-r",
            "20",
            "-t",
            f"{RUN_SECONDS}s",
            "--host",
            server.url,
            "--users-file",
            str(users),
            "--csv",
            str(root / "run"),
            "--only-summary",
            "--think-min",
            "0.2",
            "--think-max",
            "0.8",
            "--answer-timeout",
            str(ANSWER_TIMEOUT),
            "--reconnect-max",
            "2",
            "--exit-code-on-error",
            "0",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    time.sleep(7)
    trouble()
    out, err = run.communicate(timeout=120)
    return subprocess.CompletedProcess(
        run.args, run.returncode, out, err
    ), time.monotonic() - started


def _failures_by_kind(root: Path) -> dict[str, int]:
    kinds: dict[str, int] = {}
    with Path(f"{root}/run_chat_failures.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            kinds[row["kind"]] = kinds.get(row["kind"], 0) + int(row["count"])
    return kinds


def _breaches(root: Path) -> list[dict[str, str]]:
    with Path(f"{root}/run_invariants.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _late(root: Path) -> int:
    with Path(f"{root}/run_chat_summary.csv").open(newline="") as handle:
        return sum(int(row["late"]) for row in csv.DictReader(handle))


@pytest.mark.slow
def test_a_server_that_stalls_is_timed_out_not_accused(tmp_path: Path) -> None:
    db, users = _dataset(tmp_path)
    with LaunchedServer(db, "--stats-interval", "0") as server:

        def stall() -> None:
            server.process.send_signal(signal.SIGSTOP)
            time.sleep(2.5 * ANSWER_TIMEOUT)
            server.process.send_signal(signal.SIGCONT)

        done, took = _run_with(tmp_path, server, users, stall)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _breaches(tmp_path) == []
    kinds = _failures_by_kind(tmp_path)
    assert kinds.get("timeout", 0) > 0, kinds  # the stall is seen, as timeouts
    assert set(kinds) <= {"timeout"}, kinds
    assert _late(tmp_path) > 0  # what the server did after the stall is matched as late
    assert "of operations of unknown outcome" in done.stderr
    assert took < RUN_SECONDS + 25


@pytest.mark.slow
def test_a_server_killed_and_restarted_breaks_nothing(tmp_path: Path) -> None:
    db, users = _dataset(tmp_path)
    servers = [LaunchedServer(db, "--stats-interval", "0")]

    def crash() -> None:
        servers[0].kill()
        time.sleep(2)
        servers.append(LaunchedServer(db, "--stats-interval", "0", port=servers[0].port))

    try:
        done, took = _run_with(tmp_path, servers[0], users, crash)
    finally:
        for server in servers:
            server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    assert _breaches(tmp_path) == []
    kinds = _failures_by_kind(tmp_path)
    assert kinds.get("disconnect", 0) > 0, kinds
    assert set(kinds) <= {"disconnect", "unreachable", "timeout"}, kinds
    assert took < RUN_SECONDS + 25
