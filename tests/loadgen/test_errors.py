"""Bad targets and bad input: one line saying what and how to fix it, exit code 2."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import headless, run_locust


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("target")
    provision(
        root / "chat.db", root / "users.csv", ProvisionPlan(owners=2, requesters=6, history=3)
    )
    with LaunchedServer(root / "chat.db") as server:
        yield server.url, root / "users.csv"


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_locust(*headless(4, "5s"), *args, timeout=60)


def test_a_token_the_server_refuses(target: tuple[str, Path], tmp_path: Path) -> None:
    url, users = target
    lines = users.read_text().splitlines()
    wrong = [lines[0]] + [
        ",".join([row.split(",")[0], f"wrong{n}", *row.split(",")[2:]])
        for n, row in enumerate(lines[1:])
    ]
    (tmp_path / "wrong.csv").write_text("\n".join(wrong) + "\n")
    line = _error_line(_run("--host", url, "--users-file", str(tmp_path / "wrong.csv")))
    assert f"the server at {url} refused the token of user 1 (HTTP 401)" in line
    assert "check --auth-mode and --token-param" in line


def test_no_server_at_the_address(target: tuple[str, Path]) -> None:
    _, users = target
    line = _error_line(_run("--host", "ws://127.0.0.1:9/", "--users-file", str(users)))
    assert "nothing accepts connections at ws://127.0.0.1:9/" in line
    assert "start the server or fix --host" in line


def test_a_missing_users_file(target: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = target
    line = _error_line(_run("--host", url, "--users-file", str(tmp_path / "none.csv")))
    assert "does not exist: create one with 'chatload provision" in line


def test_a_malformed_users_file(target: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = target
    (tmp_path / "bad.csv").write_text("user_id,token,role\n1,abc,admin\n")
    line = _error_line(_run("--host", url, "--users-file", str(tmp_path / "bad.csv")))
    assert "line 2: role must be owner or requester, got 'admin'" in line


def test_host_without_users_file(target: tuple[str, Path]) -> None:
    url, _ = target
    assert "needs --users-file" in _error_line(_run("--host", url))


def test_fewer_identities_than_users(target: tuple[str, Path]) -> None:
    url, users = target
    done = run_locust(
        *headless(40, "5s"),
        "--host",
        url,
        "--users-file",
        str(users),
        timeout=60,
    )
    line = _error_line(done)
    assert "fewer identities than users: the run wants 10 owners and the users file has 2" in line


def test_not_a_websocket_url(target: tuple[str, Path]) -> None:
    _, users = target
    line = _error_line(_run("--host", "http://127.0.0.1:9/", "--users-file", str(users)))
    assert "--host must be a ws:// or wss:// URL" in line


def test_wss_to_a_plain_server(target: tuple[str, Path]) -> None:
    url, users = target
    line = _error_line(_run("--host", url.replace("ws://", "wss://"), "--users-file", str(users)))
    assert "TLS failed" in line
