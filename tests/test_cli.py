from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chatload.cli import main
from tests.support import Dataset


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("Error: ")
    return err[0]


def test_provision_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "provision",
            "--db",
            str(tmp_path / "c.db"),
            "--users-out",
            str(tmp_path / "u.csv"),
            "--owners",
            "2",
            "--requesters",
            "3",
            "--history",
            "4",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.startswith(
        "provisioned 5 users, 4 events, 6 chats and 24 messages"
    )


def test_serve_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", str(tmp_path / "missing.db"), "--port", "0"]) == 2
    line = _one_error_line(capsys)
    assert "does not exist: create it with 'chatload provision --db" in line


def test_serve_a_file_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.db").write_text("hello")
    assert main(["serve", "--db", str(tmp_path / "junk.db"), "--port", "0"]) == 2
    assert "is not a chatload database" in _one_error_line(capsys)


def test_serve_on_a_busy_port(dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert (
            main(["serve", "--db", str(dataset.db), "--port", str(port), "--log-level", "error"])
            == 2
        )
    assert f"cannot listen on 127.0.0.1:{port}" in _one_error_line(capsys)


def test_bad_provision_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "provision",
            "--db",
            str(tmp_path / "c.db"),
            "--users-out",
            str(tmp_path / "u.csv"),
            "--owners",
            "1",
            "--events-per-owner",
            "1",
            "--chats-per-requester",
            "3",
        ]
    )
    assert code == 2
    assert "--chats-per-requester must be within 1..1" in _one_error_line(capsys)


def test_bench_on_a_missing_core(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-server", "--server-cpu", "999"]) == 2
    assert "choose --server-cpu/--client-cpu" in _one_error_line(capsys)


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve"])
    assert caught.value.code == 2


def test_bench_generator_on_a_missing_core(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-generator", "--client-cpu", "999"]) == 2
    assert "choose --server-cpu/--client-cpu" in _one_error_line(capsys)


def test_provision_offers_every_layout(tmp_path: Path) -> None:
    for layout in ("random", "pairs", "local"):
        owners, requesters = ("2", "4") if layout == "pairs" else ("2", "6")
        code = main(
            [
                "provision",
                "--db",
                str(tmp_path / f"{layout}.db"),
                "--users-out",
                str(tmp_path / f"{layout}.csv"),
                "--owners",
                owners,
                "--requesters",
                requesters,
                "--chats-per-requester",
                "1" if layout == "pairs" else "2",
                "--layout",
                layout,
            ]
        )
        assert code == 0, layout
