"""The report's "Traffic against the model" section, on a kept model run's files."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from chatload.analysis.report import write_report

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs"


def test_a_model_runs_report_shows_its_traffic_against_the_model(tmp_path: Path) -> None:
    run = tmp_path / "model"
    shutil.copytree(RUNS / "model", run)
    page = write_report(run / "run", tmp_path / "report").read_text(encoding="utf-8")
    assert "<h2>Traffic against the model</h2>" in page
    with (run / "run_traffic.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    section = page.split("<h2>Traffic against the model</h2>")[1].split("<h2>")[0]
    for row in rows:  # every row of the proof, as the run judged it
        assert f">{row['quantity']}<" in section and f">{row['verdict']}<" in section
    assert (tmp_path / "report" / "traffic_arrivals.png").stat().st_size > 10_000
    assert (tmp_path / "report" / "traffic_qq.png").stat().st_size > 10_000
    with (run / "run_traffic_intervals.csv").open(newline="") as handle:
        dropped = sum(int(row["dropped"]) for row in csv.DictReader(handle))
    assert f"Sessions dropped: {dropped};" in section


def test_the_table_stands_without_the_traffic_export(tmp_path: Path) -> None:
    run = tmp_path / "model"
    shutil.copytree(RUNS / "model", run)
    (run / "run_traffic_messages.csv").unlink()
    page = write_report(run / "run", tmp_path / "report").read_text(encoding="utf-8")
    assert "<h2>Traffic against the model</h2>" in page and "QQ plots" not in page


def test_a_think_time_run_has_no_traffic_section(tmp_path: Path) -> None:
    run = tmp_path / "smoke"
    shutil.copytree(RUNS / "smoke", run)
    page = write_report(run / "run", tmp_path / "report").read_text(encoding="utf-8")
    assert "Traffic against the model" not in page
