"""An export's files: read back as written; every bad input one clear line, and nothing
written half by chatload traffic fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chatload.cli import main
from chatload.errors import ConfigError
from chatload.traffic.exportfiles import read_export, write_export
from tests.traffic.known import known_export


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("export")
    write_export(known_export(20_000), directory)
    return directory


def test_an_export_reads_back_as_it_was_written(files: Path) -> None:
    export = known_export(20_000)
    again = read_export(
        files / "messages.csv", reads=files / "reads.csv", sessions=files / "sessions.csv"
    )
    assert again.reads is not None and export.reads is not None
    assert len(again.chat) == len(export.chat) and len(again.reads) == len(export.reads)
    assert again.created.max() == pytest.approx(export.created.max(), abs=1e-3)
    assert set(again.owner_of_chat.values()) <= {u for u, r in export.roles.items() if r == "owner"}


def test_a_runs_session_flags_read_back_as_written(tmp_path: Path) -> None:
    # A run's own sessions carry answering, carried_over and cut_short.
    export = known_export(2_000)
    assert export.sessions is not None
    rows = len(export.sessions)
    flags = np.column_stack(
        [np.arange(rows) % 2, np.arange(rows) % 3 == 0, np.arange(rows) % 5 == 0]
    )
    export.sessions = np.column_stack([export.sessions[:, :3], flags.astype(float)])
    write_export(export, tmp_path)
    header = (tmp_path / "sessions.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "user_id,connected_at,disconnected_at,answering,carried_over,cut_short"
    again = read_export(tmp_path / "messages.csv", sessions=tmp_path / "sessions.csv")
    assert again.sessions is not None
    assert again.sessions[:, 3:].tolist() == flags.astype(float).tolist()


def _messages(
    tmp_path: Path,
    body: str,
    header: str = "chat_id,message_id,from_user_id,to_user_id,created_at,owner_id",
) -> Path:
    path = tmp_path / "messages.csv"
    path.write_text(header + "\n" + body)
    return path


def _rows(n: int, *, times: str = "{}", start: int = 1) -> str:
    return "".join(f"c1,{i},1,2,{times.format(1000 + i)},1\n" for i in range(start, start + n))


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        (
            "chat_id,message_id,from_user_id,created_at,owner_id",
            "",
            r"messages\.csv: no column to_user_id",
        ),
        (
            None,
            _rows(3) + "c1,4,1,2,not-a-date,1\n" + _rows(100, start=5),
            r"messages\.csv, line 5: 'not-a-date' is not a date",
        ),
        (
            None,
            _rows(50) + "c1,7,1,2,1999,1\n" + _rows(60, start=51),
            r"messages\.csv, line \d+: message 7 of its chat is out of order",
        ),
        (None, _rows(99), r"messages\.csv: 99 messages; a fit needs at least 100"),
        (
            None,
            _rows(120).replace("c1,5,1,2,1005,1", "c1,x,1,2,1005,1"),
            r"line 6: message_id 'x' is not a whole number",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_the_line(
    tmp_path: Path, header: str | None, body: str, message: str
) -> None:
    path = _messages(tmp_path, body, header) if header else _messages(tmp_path, body)
    with pytest.raises(ConfigError, match=message):
        read_export(path)


def test_an_empty_file_and_a_missing_owner_say_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ConfigError, match=r"empty\.csv: empty: expected a header"):
        read_export(empty)
    path = tmp_path / "m.csv"
    path.write_text(
        "chat_id,message_id,from_user_id,to_user_id,created_at\n"
        + "".join(f"c1,{i},1,2,{1000 + i}\n" for i in range(1, 120))
    )
    with pytest.raises(
        ConfigError, match=r"chat 'c1' has no owner: add an owner_id column or --chats"
    ):
        read_export(path)


def test_a_failed_fit_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _messages(tmp_path, _rows(99))
    assert main(["traffic", "fit", str(path), "-o", str(tmp_path / "out" / "model.json")]) == 2
    assert "Error: " in capsys.readouterr().err
    assert not (tmp_path / "out" / "model.json").exists()
    assert not (tmp_path / "out" / "model-fit").exists()


def test_a_fit_writes_the_model_and_its_report(files: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    assert (
        main(
            [
                "traffic",
                "fit",
                str(files / "messages.csv"),
                "--reads",
                str(files / "reads.csv"),
                "--sessions",
                str(files / "sessions.csv"),
                "--burst-gap",
                "2h",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    page = (tmp_path / "model-fit" / "index.html").read_text()
    assert "lognormal_mixture" in page and "QQ" not in page  # QQ is in the PNGs' titles
    assert (tmp_path / "model-fit" / "owner_reply_gap_s.png").stat().st_size > 10_000
    from chatload.traffic.loading import load_model

    assert load_model(str(out)).burst_gap_s == 7200.0


def test_a_simulated_export_is_written_and_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["traffic", "simulate", "default", "-o", str(tmp_path), "--days", "1"]
    assert main([*command, "--owners", "20", "--requesters", "80", "--messages", "500"]) == 0
    export = read_export(tmp_path / "messages.csv", sessions=tmp_path / "sessions.csv")
    assert export.sessions is not None
    said = capsys.readouterr().out
    assert said.startswith(f"{len(export.chat):,} messages, {len(export.sessions):,} sessions")
