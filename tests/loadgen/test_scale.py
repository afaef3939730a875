"""Many connections: spread over local addresses, and limits said before users start."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

from chatload.provision import ProvisionPlan
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import (
    ROOT,
    headless,
    locust_command,
    read_stats,
    run_locust,
    small_dataset,
)


def _dataset(root: Path) -> tuple[Path, Path]:
    return small_dataset(root, ProvisionPlan(owners=4, requesters=12, history=5, layout="local"))


@pytest.mark.slow
def test_connections_spread_over_the_source_addresses(tmp_path: Path) -> None:
    db, users = _dataset(tmp_path)
    log = tmp_path / "server.log"
    with (
        log.open("wb") as handle,
        LaunchedServer(
            db, "--log-level", "debug", "--log-format", "json", "--stats-interval", "0", log=handle
        ) as server,
    ):
        done = run_locust(
            *headless(8, "5s"),
            "--host",
            server.url,
            "--users-file",
            str(users),
            "--source-addresses",
            "127.0.0.2-127.0.0.3",
            "--csv",
            str(tmp_path / "run"),
            "--quiesce-seconds",
            "1",
        )
    assert done.returncode == 0, done.stderr[-2000:]
    peers = [
        record["peer"].rsplit(":", 1)[0]
        for record in map(json.loads, log.read_text().splitlines())
        if record.get("msg") == "connection opened"
    ]
    assert len(peers) >= 8
    assert set(peers) == {"127.0.0.2", "127.0.0.3"}
    assert abs(peers.count("127.0.0.2") - peers.count("127.0.0.3")) <= 1
    assert int(read_stats(tmp_path / "run")["connect"]["Failure Count"]) == 0


def _limited(*args: str, files: int) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    return subprocess.run(
        locust_command("--headless", "-r", "100", "-t", "5s", *args),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        preexec_fn=limit,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )


def _one_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    return line


def test_more_users_than_open_files_exit_2_before_any_user(tmp_path: Path) -> None:
    db, users = _dataset(tmp_path)
    with LaunchedServer(db) as server:
        line = _one_error(
            _limited("-u", "400", "--host", server.url, "--users-file", str(users), files=300)
        )
    assert "400 users need 528 open files in this process and its limit is 300" in line
    assert "ulimit -n" in line and "--processes N" in line


def test_more_users_than_the_embedded_server_can_hold_exit_2() -> None:
    line = _one_error(_limited("-u", "400", files=300))
    assert "the embedded server would hold 400 connections" in line
    assert "the hard limit is 300" in line
