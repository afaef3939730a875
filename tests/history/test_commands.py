"""``chatload history``: record, analyze (exit codes, formats, new and acknowledged),
ack and report, through the command line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from chatload.cli import main
from chatload.history.store import RunSummary, summary_name
from chatload.history.stores import open_store

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs"


def _history(store: Path | str, p99: list[float], commits: list[str] | None = None) -> list[str]:
    """A history of ``p99`` values in ``store`` (a directory or a PostgreSQL URL)."""
    commits = commits or [f"{i:07x}abc" for i in range(len(p99))]
    for i, (commit, value) in enumerate(zip(commits, p99, strict=True)):
        meta = {
            "time": f"2026-11-01T00:{i // 60:02d}:{i % 60:02d}Z",
            "commit": commit,
            "scenario": "nightly",
            "machine": {"fingerprint": "ci-runner"},
            "results": f"/results/run{i}",
        }
        figures = {"send_ack.p99_ms": value, "run.messages_per_s": 50.0, "send_ack.count": 900.0}
        open_store(str(store)).add(RunSummary(summary_name(commit), meta, figures))
    return commits


def _stepped(runs: int, at: int, change: float) -> list[float]:
    values = 20 * (1 + np.random.default_rng(1).normal(0, 0.02, runs))
    values[at:] *= 1 + change
    return [float(v) for v in values]


def test_record_keeps_a_runs_figures_and_where_it_ran(tmp_path: Path) -> None:
    store = tmp_path / "store"
    code = main(
        [
            "history",
            "record",
            str(FIXTURES / "smoke"),
            "--store",
            str(store),
            "--commit",
            "0123456789ab",
            "--branch",
            "main",
            "--options",
            "-u 20 -t 30s",
        ]
    )
    assert code == 0
    (path,) = (store / "runs").glob("*.json")
    data = json.loads(path.read_text("utf-8"))
    run, figures = data["run"], data["figures"]
    assert (run["commit"], run["branch"], run["scenario"]) == ("0123456789ab", "main", "run")
    assert run["machine"]["cores"] >= 1 and len(run["machine"]["fingerprint"]) == 12
    assert run["versions"]["locust"] and run["options_sha256"] and run["users"] >= 1
    assert figures["delivery.count"] == 253 and figures["delivery.p90_ms"] == 2.281
    assert "delivery.p99_ms" not in figures  # 253 samples do not bound a p99
    assert figures["delivery.failure_ratio"] == 0 and figures["run.messages_per_s"] > 0
    assert "0123456789ab" in path.name


def test_a_search_run_records_its_capacity(tmp_path: Path) -> None:
    assert main(["history", "record", str(FIXTURES / "search"), "--store", str(tmp_path)]) == 0
    (path,) = (tmp_path / "runs").glob("*.json")
    figures = json.loads(path.read_text("utf-8"))["figures"]
    assert figures["capacity.users"] == 120 and figures["capacity.messages_per_s"] > 0


def test_a_new_regression_fails_once_and_an_acknowledged_one_never(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path)
    commits = _history(tmp_path, _stepped(60, 40, 0.25))
    assert main(["history", "analyze", "--store", store]) == 1
    out = capsys.readouterr().out
    assert f"nightly:send_ack.p99_ms at {commits[40][:12]}" in out
    assert "+25" in out or "+24" in out or "+26" in out
    assert (
        "NEW regression" in out and "confirm: chatload compare /results/run39 /results/run40" in out
    )
    assert out.rstrip().endswith("REGRESSION: 1 new change point(s) made a figure worse")
    # Reported once: the next analyze shows it, no longer new, and passes.
    assert main(["history", "analyze", "--store", store]) == 0
    out = capsys.readouterr().out
    assert f"at {commits[40][:12]}" in out and "NEW regression" not in out
    # A second step, acknowledged before it is analyzed, never alerts.
    more = _history(tmp_path / "more", _stepped(60, 40, -0.3))
    assert (
        main(
            [
                "history",
                "ack",
                more[40][:9],
                "--store",
                str(tmp_path / "more"),
                "--series",
                "nightly:send_ack.*",
                "--reason",
                "faster disks",
            ]
        )
        == 0
    )
    assert main(["history", "analyze", "--store", str(tmp_path / "more")]) == 0  # improvement
    assert "acknowledged (faster disks)" in capsys.readouterr().out


def test_analyze_speaks_json_markdown_and_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _history(tmp_path, _stepped(60, 30, 0.2))
    junit = tmp_path / "out" / "history.xml"
    assert (
        main(
            [
                "history",
                "analyze",
                "--store",
                str(tmp_path),
                "--format",
                "json",
                "--junit",
                str(junit),
                "--dry-run",
            ]
        )
        == 1
    )
    data = json.loads(capsys.readouterr().out)
    (point,) = data["change_points"]
    assert point["series"] == "nightly:send_ack.p99_ms" and point["regression"] and point["alert"]
    assert point["runs_before"] == 30 and point["change"] == pytest.approx(0.2, abs=0.03)
    assert data["series"] == 2  # p99 and messages/s; counts are recorded, not analyzed
    assert '<testsuite name="chatload history" tests="2" failures="1">' in junit.read_text("utf-8")
    assert main(["history", "analyze", "--store", str(tmp_path), "--format", "markdown"]) == 1
    table = capsys.readouterr().out
    assert "| `nightly:send_ack.p99_ms` |" in table and "**NEW regression**" in table


def test_too_little_history_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _history(tmp_path, [10.0, 10.5, 10.2, 10.1, 9.9])
    assert main(["history", "analyze", "--store", str(tmp_path)]) == 2
    assert "too little history" in capsys.readouterr().err
    assert main(["history", "analyze", "--store", str(tmp_path / "none")]) == 2
    assert "no history store at" in capsys.readouterr().err


def test_runs_are_ordered_by_the_first_parent_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    commits = []
    for i in range(60):
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", str(i)], check=True)
        commits.append(
            subprocess.run(
                [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
    values = _stepped(60, 40, 0.3)
    # Recorded out of order, and every third commit not run at all.
    kept = [i for i in range(60) if i % 3 != 1][::-1]
    _history(tmp_path / "store", [values[i] for i in kept], [commits[i] for i in kept])
    assert (
        main(["history", "analyze", "--store", str(tmp_path / "store"), "--repo", str(repo)]) == 1
    )
    out = capsys.readouterr().out
    # The step came with commit 40, which was not run: between the runs of 39 and 41.
    assert f"send_ack.p99_ms at {commits[39][:12]}..{commits[41][:12]}: " in out


def test_the_report_shows_trends_and_open_regressions(tmp_path: Path) -> None:
    _history(tmp_path, _stepped(60, 40, 0.25))
    assert main(["history", "report", "--store", str(tmp_path), "-o", str(tmp_path / "page")]) == 0
    page = (tmp_path / "page" / "index.html").read_text("utf-8")
    assert "<h2>Open regressions</h2>" in page and "chatload compare /results/run39" in page
    assert len(list((tmp_path / "page").glob("trend-*.png"))) == 1
    assert "No change point in 1 series: nightly:run.messages_per_s" in page


def test_a_step_at_a_run_that_did_not_measure_the_figure_is_given_as_a_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commits = _history(tmp_path, _stepped(40, 20, 0.3))
    # The twentieth run had too few samples to bound its p99: it has no such figure.
    name = next(p for p in (tmp_path / "runs").glob("*.json") if commits[20][:7] in p.name)
    summary = json.loads(name.read_text("utf-8"))
    del summary["figures"]["send_ack.p99_ms"]
    name.write_text(json.dumps(summary), "utf-8")
    (tmp_path / "index.sqlite").unlink(missing_ok=True)
    main(["history", "analyze", "--store", str(tmp_path), "--format", "json", "--dry-run"])
    (point,) = json.loads(capsys.readouterr().out)["change_points"]
    assert point["commit"] == commits[21] and point["runs_unmeasured"] == 1
    assert point["commits"] == f"{commits[19][:12]}..{commits[21][:12]}"
