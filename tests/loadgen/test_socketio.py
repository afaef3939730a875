"""chatload over Socket.IO: against python-socketio's server (an implementation it
did not write), its own reference server against python-socketio's client, and
the pre-flight saying which transport a server speaks."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from chatload.server.launcher import LaunchedServer
from chatload.users_file import read_users
from tests.loadgen.support import (
    ROOT,
    assert_every_metric_clean,
    headless,
    read_stats,
    run_locust,
    small_dataset,
    until,
)

APP = Path(__file__).with_name("socketio_chat_app.py")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return small_dataset(tmp_path_factory.mktemp("socketio"))


@pytest.fixture
def python_socketio_server(dataset: tuple[Path, Path], tmp_path: Path) -> Iterator[str]:
    db = tmp_path / "chat.db"
    db.write_bytes(dataset[0].read_bytes())
    ready = tmp_path / "ready.json"
    log = (tmp_path / "app.log").open("wb")
    app = subprocess.Popen(
        [sys.executable, str(APP), str(db), str(ready)],
        stdout=log,
        stderr=log,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)},
    )
    try:
        until("the app to listen", ready.exists, 30, interval=0.05, process=app)
        yield f"ws://127.0.0.1:{json.loads(ready.read_text())['port']}/"
    finally:
        app.terminate()
        app.wait(10)
        log.close()


@pytest.mark.slow
def test_every_metric_against_python_socketio_pinging_every_second(
    python_socketio_server: str, dataset: tuple[Path, Path], tmp_path: Path
) -> None:
    prefix = tmp_path / "run"
    done = run_locust(
        *headless(20, "20s"),
        "--host",
        python_socketio_server,
        "--transport",
        "socketio",
        "--auth-mode",
        "auth",
        "--users-file",
        str(dataset[1]),
        "--think-min",
        "0.2",
        "--think-max",
        "1",
        "--churn-share",
        "0.2",
        "--churn-interval",
        "5",
        "--csv",
        str(prefix),
        "--only-summary",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stats = read_stats(prefix)
    assert_every_metric_clean(stats, prefix)
    # Pings every second for 20 s: a missed pong would have dropped users.
    assert "connection" not in stats, stats.get("connection")
    with Path(f"{prefix}_invariants.csv").open(newline="") as handle:
        assert list(csv.DictReader(handle)) == []


def test_the_reference_server_speaks_socketio_to_python_socketio(
    dataset: tuple[Path, Path], tmp_path: Path
) -> None:
    db = tmp_path / "chat.db"
    db.write_bytes(dataset[0].read_bytes())
    identities = {i.user_id: i for i in read_users(dataset[1])}
    with LaunchedServer(db, "--transport", "socketio", "--ping-interval", "1") as server:
        url = server.url.replace("ws://", "http://")
        seen: dict[str, list[object]] = {"owner": [], "requester": []}
        arrived = threading.Event()
        clients = {}
        for role, events in seen.items():
            client = socketio.Client(reconnection=False)

            def record(event: str, data: object, events: list[object] = events) -> None:
                events.append((event, data))
                if event == "chat_updates":
                    arrived.set()

            client.on("*", record)
            token = next(i.token for i in identities.values() if i.role == role)
            client.connect(url, auth={"token": token}, transports=["websocket"])
            clients[role] = client
        try:
            until(
                "initial_data on both",
                lambda: all(seen.values()),
                10,
                interval=0.05,
                seen=lambda: seen,
            )
            assert all(events[0][0] == "initial_data" for events in seen.values())
            chats = seen["requester"][0][1]
            assert isinstance(chats, list) and chats
            chat_id = chats[0]["chats"][0]["chatId"]
            clients["requester"].emit(
                "send_message", {"chatId": chat_id, "message": {"text": "привет"}}
            )
            assert arrived.wait(10)
            clients["requester"].emit("load_history", {"chatId": chat_id, "lastMessageId": 5})
            time.sleep(2.5)  # past two server pings: the client must still be there
            names = [event for event, _ in seen["requester"]]
            assert {"chat_updates", "chat_unread", "history"} <= set(names), names
            assert clients["requester"].connected
        finally:
            for client in clients.values():
                client.disconnect()
        # A refused client, in a process of its own: python-socketio leaves the
        # refused connection's socket to the garbage collector.
        done = subprocess.run(
            [sys.executable, "-c", _REFUSED, url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "invalid token" in done.stdout, done.stdout


_REFUSED = """
import sys, socketio
client = socketio.Client(reconnection=False)
reasons = []
client.on("connect_error", reasons.append)
try:
    client.connect(sys.argv[1], auth={"token": "wrong"}, transports=["websocket"])
except socketio.exceptions.ConnectionError:
    print("refused:", reasons)
"""


@pytest.mark.parametrize(
    ("server_transport", "run_transport", "says"),
    [
        (
            "socketio",
            "websocket",
            "speaks Socket.IO (it sent an Engine.IO open packet): use --transport socketio",
        ),
        ("websocket", "socketio", "it looks like a plain WebSocket server (--transport websocket)"),
    ],
)
def test_the_preflight_names_the_transport_a_server_speaks(
    dataset: tuple[Path, Path], server_transport: str, run_transport: str, says: str
) -> None:
    with LaunchedServer(dataset[0], "--transport", server_transport) as server:
        done = run_locust(
            *headless(2, "5s"),
            "--host",
            server.url,
            "--users-file",
            str(dataset[1]),
            "--transport",
            run_transport,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    error = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and says in error[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
