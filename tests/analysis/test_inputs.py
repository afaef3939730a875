"""Bad input to the report: one clear line naming the file and what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from chatload.cli import main
from chatload.records.files import CHAT_METRICS_COLUMNS
from tests.analysis.conftest import copy_run


def _spoil(prefix: Path, name: str, change: Callable[[str], str]) -> Path:
    path = Path(f"{prefix}_{name}.csv")
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def _report_error(prefix: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["report", str(prefix), "-o", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err and not captured.out
    return lines[0]


def _second_line_field(text: str, column: int, value: str) -> str:
    lines = text.splitlines()
    fields = lines[1].split(",")
    fields[column] = value
    lines[1] = ",".join(fields)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "change", "says"),
    [
        ("stats", lambda text: "", "_stats.csv is empty: expected a header row"),
        ("chat_metrics", lambda text: "", "_chat_metrics.csv is empty"),
        (
            "chat_metrics",
            lambda text: text[: len(text) // 2],
            f"expected {len(CHAT_METRICS_COLUMNS)} fields, got",
        ),
        (
            "chat_metrics",
            lambda text: _second_line_field(text, 3, "many"),
            "line 2: count must be a number, got 'many'",
        ),
        (
            "chat_metrics",
            lambda text: _second_line_field(text, 0, "yesterday"),
            "line 2: expected an ISO 8601 time, got 'yesterday'",
        ),
        (
            "chat_hdr",
            lambda text: _second_line_field(text, 4, "not-a-histogram"),
            "line 2: hdr is not an encoded HdrHistogram",
        ),
        (
            "stats_history",
            lambda text: text.replace("User Count", "Users", 1),
            "_stats_history.csv lacks the column(s) User Count: is it the right file?",
        ),
        (
            "invariants",
            lambda text: "time,kind\n",
            "_invariants.csv lacks the column(s) chat_id, message_ids, users, detail",
        ),
        (
            "generator_health",
            lambda text: text.replace(",", ";"),
            "_generator_health.csv lacks the column(s)",
        ),
    ],
)
def test_a_spoilt_file_is_named_with_what_is_wrong(
    soak_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    change: Callable[[str], str],
    says: str,
) -> None:
    prefix = copy_run(soak_run, tmp_path / "run")
    spoilt = _spoil(prefix, name, change)
    line = _report_error(prefix, tmp_path / "out", capsys)
    assert line.startswith(f"Error: {spoilt}"), line
    assert says in line, line


def test_binary_garbage_is_not_csv(
    soak_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(soak_run, tmp_path / "run")
    Path(f"{prefix}_chat_summary.csv").write_bytes(b"\xff\xfe\x00garbage\x00\xff" * 10)
    line = _report_error(prefix, tmp_path / "out", capsys)
    assert "_chat_summary.csv" in line and "not valid CSV" in line, line


def test_a_missing_file_says_how_the_run_should_have_been_made(
    soak_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(soak_run, tmp_path / "run")
    for name in ("failures", "stats_history"):
        Path(f"{prefix}_{name}.csv").unlink()
        line = _report_error(prefix, tmp_path / "out", capsys)
        assert line == (
            f"Error: {prefix}_{name}.csv is missing: a run with --csv {prefix} through "
            "chatload's locustfile writes it"
        )
        copy_run(soak_run, tmp_path / "run")


def test_a_run_with_no_intervals_recorded_nothing(
    soak_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = copy_run(soak_run, tmp_path / "run")
    for name in ("chat_metrics", "chat_hdr"):
        _spoil(prefix, name, lambda text: text.splitlines()[0] + "\n")
    line = _report_error(prefix, tmp_path / "out", capsys)
    assert "has no rows: the run recorded nothing" in line, line


def test_no_run_and_two_runs_in_a_directory(
    soak_run: Path, step_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    line = _report_error(empty, tmp_path / "out", capsys)
    assert f"{empty} holds no run: give the --csv prefix of one run" in line
    both = tmp_path / "both"
    copy_run(soak_run, both)
    copy_run(step_run, both)
    line = _report_error(both, tmp_path / "out", capsys)
    assert f"{both} holds 2 runs" in line
    line = _report_error(tmp_path / "nothing-here", tmp_path / "out", capsys)
    assert "no run at" in line and "give the --csv prefix" in line


def test_a_directory_with_one_run_is_that_run(
    soak_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_run(soak_run, tmp_path / "only")
    assert main(["report", str(tmp_path / "only"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "index.html")


def test_bad_options_of_the_report(
    soak_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["report", str(soak_run), "-o", str(out), "--step-hold", "5"]) == 2
    assert "--step-hold must be longer than --step-settle" in capsys.readouterr().err
    assert main(["report", str(soak_run), "-o", str(out), "--slo", "delivery p99 is fast"]) == 2
    assert "is not '<metric> <statistic> <op> <value>[unit]'" in capsys.readouterr().err
