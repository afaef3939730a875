"""The history store in a real PostgreSQL server started here (Debian's postgresql;
make test installs it): what a directory store keeps and answers, kept as rows."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatload.cli import main
from chatload.history.pgstore import PostgresStore
from chatload.history.store import Ack
from chatload.history.stores import open_store
from tests.history.test_commands import FIXTURES, _history, _stepped
from tests.loadgen.support import until
from tests.support import system_program

psycopg = pytest.importorskip("psycopg")


def _initdb() -> str:
    found = shutil.which("initdb") or next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)), None
    )
    if found:
        return str(found)
    return system_program(("initdb",), "a PostgreSQL history store needs Debian's postgresql")


def _accepts(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A PostgreSQL server of its own on a free loopback port; its admin URL."""
    initdb = _initdb()
    root = Path(tempfile.mkdtemp(prefix="chatload-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as its own user
        shutil.chown(root, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    subprocess.run(
        [*as_owner, initdb, "-D", str(data), "-U", "chatload", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            *as_owner,
            str(Path(initdb).with_name("postgres")),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(root),
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql://chatload@127.0.0.1:{port}/postgres"
    try:
        until("PostgreSQL accepting connections", lambda: _accepts(url), 60, process=process)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def _database(server: str) -> str:
    """A fresh database on the server, for a store that starts empty; its URL."""
    name = f"history_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def store_url(server: str) -> str:
    return _database(server)


def _analyze(store: str | Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """The exit code and the JSON analysis, the runs' names left out (each store
    names its runs anew)."""
    code = main(["history", "analyze", "--store", str(store), "--format", "json"])
    analysis = json.loads(capsys.readouterr().out)
    for point in analysis["change_points"]:
        del point["run_before"], point["run_after"]
    return code, analysis


def test_a_postgresql_store_answers_as_a_directory_does(
    server: str, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = _stepped(60, 40, 0.25)
    commits = _history(store_url, values)
    assert _history(tmp_path / "store", values, commits) == commits
    code, analysis = _analyze(store_url, capsys)
    assert (code, analysis) == _analyze(tmp_path / "store", capsys)
    assert code == 1 and analysis["change_points"][0]["commit"] == commits[40]  # a new regression
    # Reported once, in the database: the next analyze passes.
    assert _analyze(store_url, capsys)[0] == 0
    assert open_store(store_url).reported() == open_store(str(tmp_path / "store")).reported()
    # A second step, acknowledged before it is analyzed, never alerts.
    more = _database(server)
    later = _history(more, _stepped(60, 40, 0.3))
    ack = ["history", "ack", later[40][:9], "--store", more, "--series", "nightly:send_ack.*"]
    assert main([*ack, "--reason", "a slower disk, on purpose"]) == 0
    assert "acknowledgement" in capsys.readouterr().out
    assert main(["history", "analyze", "--store", more]) == 0
    assert "acknowledged (a slower disk, on purpose)" in capsys.readouterr().out


def test_a_run_is_recorded_into_postgresql(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["history", "record", str(FIXTURES / "smoke"), "--store", store_url, "--commit", "0123abc"]
    )
    assert code == 0
    assert capsys.readouterr().out.startswith(f"{store_url} run ")
    (run,) = open_store(store_url).runs()
    assert run.commit == "0123abc" and run.figures["send_ack.count"] > 0


def test_a_row_that_is_no_summary_is_named_and_skipped(store_url: str) -> None:
    store = PostgresStore(store_url)
    _history(store_url, [20.0, 21.0])
    with psycopg.connect(store_url, autocommit=True) as db:
        db.execute("INSERT INTO chatload_history_runs (name, body) VALUES ('bad.json', '[1]')")
    assert len(store.runs()) == 2
    assert store.problems == [
        f'{store_url} run bad.json: skipped, not a chatload run summary (no "format": '
        '"chatload-history/1")'
    ]
    store.acknowledge(Ack("abc", "smoke:*", "why", "2026-12-07"))
    assert store.acks() == [Ack("abc", "smoke:*", "why", "2026-12-07")]


def test_a_server_that_is_not_there_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe closes
    url = f"postgresql://chatload:secret@127.0.0.1:{port}/history"
    assert main(["history", "analyze", "--store", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: --store postgresql://chatload:***@127.0.0.1:{port}/history: ")
    assert "check the URL, and that the server runs" in err
    assert "secret" not in err and len(err.strip().splitlines()) == 1


def test_a_user_that_may_only_read_and_insert_uses_a_store_made_before(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _history(store_url, [20.0, 21.0])  # the tables made by their owner
    reader = f"reader_{uuid.uuid4().hex[:8]}"
    database = store_url.rsplit("/", 1)[1]
    with psycopg.connect(store_url, autocommit=True) as db:
        db.execute(f"CREATE ROLE {reader} LOGIN")
        db.execute(f"GRANT CONNECT ON DATABASE {database} TO {reader}")
        db.execute(f"GRANT USAGE ON SCHEMA public TO {reader}")  # not CREATE
        db.execute(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {reader}")
        db.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {reader}")
    url = store_url.replace("//chatload@", f"//{reader}@")
    assert main(["history", "analyze", "--store", url]) == 2  # too little history
    assert "permission denied" not in capsys.readouterr().err
    store = PostgresStore(url)
    assert len(store.runs()) == 2
    store.report([("smoke:send_ack.p50_ms", "abc")])
    assert store.reported() == {("smoke:send_ack.p50_ms", "abc")}
