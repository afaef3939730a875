"""The personas in a real Locust Environment against a real reference server."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import DRIVER, METRICS, ROOT, drive, until


@pytest.mark.slow
def test_personas_measure_everything_and_churn() -> None:
    result = drive(
        12,
        12,
        "--churn-share",
        "1",
        "--churn-interval",
        "3",
        "--think-min",
        "0.2",
        "--think-max",
        "1",
    )
    stats, people = result["stats"], result["users"]
    for metric in METRICS:
        assert stats[metric]["count"] > 0, metric
    assert result["failures"] == []
    # Every user churned at least once: more connects than users, each with initial_data.
    assert stats["connect"]["count"] > 12
    assert stats["initial_data"]["count"] == stats["connect"]["count"]
    # Distinct identities; owners see their chats grouped by event.
    assert len({person["user_id"] for person in people}) == len(people) == 12
    # Each churns every 3 s, so one may be between two connections when the people
    # are read: judged are those connected then (a disconnected one holds no chats).
    connected = [p for p in people if p["connected"]]
    owners = [p for p in connected if p["class"] == "OwnerUser"]
    requesters = [p for p in connected if p["class"] == "RequesterUser"]
    assert owners and all(p["events"] == 2 and p["chats"] >= 1 for p in owners)
    assert requesters and all(p["chats"] == 2 for p in requesters)


def _connections(port: int) -> float:
    """The reference server's open WebSocket connections, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("chatload_server_connections "):
                return float(line.split()[1])
    return 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.slow
def test_users_reconnect_after_the_server_comes_back(tmp_path: Path) -> None:
    provision(
        tmp_path / "chat.db",
        tmp_path / "users.csv",
        ProvisionPlan(owners=3, requesters=9, history=60),
    )
    port = _free_port()
    server = LaunchedServer(tmp_path / "chat.db", port=port)
    driver = subprocess.Popen(
        [
            sys.executable,
            str(DRIVER),
            "14",
            "12",
            "--host",
            server.url,
            "--users-file",
            str(tmp_path / "users.csv"),
            "--think-min",
            "0.2",
            "--think-max",
            "0.6",
            "--reconnect-max",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        # Every user connected first (a fixed 4 s was too short for a driver started
        # beside three other test processes), then a second of chatting.
        until("every user connected", lambda: _connections(port) >= 12, 30, process=driver)
        time.sleep(1)
        assert server.stop(signal.SIGTERM) == 0  # every user is dropped with 1001
        time.sleep(1.5)
        server = LaunchedServer(tmp_path / "chat.db", port=port)
        out, err = driver.communicate(timeout=60)
    finally:
        server.stop()
        driver.kill()
    assert driver.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    stats, failures = result["stats"], result["failures"]
    disconnects = [f for f in failures if f["name"] == "connection"]
    assert disconnects and all("code 1001" in f["error"] for f in disconnects)
    assert sum(f["occurrences"] for f in disconnects) == 12
    # Everyone came back (some attempts may have hit the closed port first).
    assert stats["connect"]["count"] - stats["connect"]["failures"] >= 24
    assert all(person["connected"] for person in result["users"])
    assert stats["send_ack"]["count"] > stats["send_ack"]["failures"]
