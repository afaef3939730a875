"""The HTML report of made-up runs: every section, every plot, the right figures."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import matplotlib.image
import pytest

from chatload.analysis.report import write_report
from chatload.slo import parse_thresholds
from tests.analysis.conftest import SOAK_PLAN

PLOTS = ("latency", "distributions", "throughput", "failures", "invariants", "health")


def page_text(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    html = re.sub(r"<style.*?</style>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&lt;", "<")


def assert_pictures(page: Path, names: tuple[str, ...]) -> None:
    html = page.read_text(encoding="utf-8")
    for name in names:
        assert f'src="{name}.png"' in html, name
        picture = matplotlib.image.imread(page.parent / f"{name}.png")
        assert picture.shape[0] > 300 and picture.shape[1] > 600, (name, picture.shape)
        assert picture.std() > 0.01, f"{name}.png is blank"


@pytest.fixture(scope="module")
def soak_report(soak_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    thresholds = parse_thresholds(
        ["delivery p99 < 250ms", "send_ack p50 < 1ms", "invariant breaches == 0"]
    )
    return write_report(soak_run, tmp_path_factory.mktemp("report"), thresholds=thresholds)


def test_every_plot_is_drawn(soak_report: Path) -> None:
    assert_pictures(soak_report, PLOTS)
    # A constant-load soak has no steps: no capacity section.
    assert not (soak_report.parent / "capacity.png").exists()
    assert "Capacity verdict" not in page_text(soak_report)


def test_summary_counts_are_the_runs(soak_run: Path, soak_report: Path) -> None:
    text = page_text(soak_report)
    with Path(f"{soak_run}_chat_summary.csv").open(newline="") as handle:
        summary = {row["metric"]: row for row in csv.DictReader(handle)}
    assert sum(int(row["count"]) for row in summary.values()) == SOAK_PLAN.samples
    for metric, row in summary.items():
        assert f" {metric} {int(row['count']):,} {int(row['failures']):,} " in text, metric


def test_verdicts_and_breaches_are_stated(soak_run: Path, soak_report: Path) -> None:
    text = page_text(soak_report)
    assert re.search(r"delivery p99 < 250ms [\d.]+ ms PASS", text), text[:2000]
    assert re.search(r"send_ack p50 < 1ms [\d.]+ ms FAIL", text)
    assert "invariant breaches == 0 3 FAIL" in text
    assert "2 SLO(s) breached ; 3 breach(es) of the guarantees" in text
    with Path(f"{soak_run}_invariants.csv").open(newline="") as handle:
        for breach in csv.DictReader(handle):
            assert f"{breach['kind']} {breach['chat_id']}" in text
    with Path(f"{soak_run}_chat_metrics.csv").open(newline="") as handle:
        hot = {
            row["interval_start"]
            for row in csv.DictReader(handle)
            if row["generator_saturated"] == "true"
        }
    assert hot, "the plan asked for saturated intervals"
    assert f"generator saturated in {len(hot)} interval(s)" in text


def test_slos_of_the_run_are_judged_when_none_are_given(soak_run: Path, tmp_path: Path) -> None:
    Path(f"{soak_run}_slo.csv").write_text(
        "threshold,value,passed\ndelivery p99 < 1us,4.0,false\n", encoding="utf-8"
    )
    try:
        page = write_report(soak_run, tmp_path)
    finally:
        Path(f"{soak_run}_slo.csv").unlink()
    assert re.search(r"delivery p99 < 1us [\d.]+ ms FAIL", page_text(page))


def test_a_step_run_gets_a_capacity_verdict(step_run: Path, tmp_path: Path) -> None:
    page = write_report(step_run, tmp_path, thresholds=parse_thresholds(["delivery p99 < 40ms"]))
    assert_pictures(page, (*PLOTS, "capacity"))
    text = page_text(page)
    assert "Every SLO holds up to 150 users" in text
    assert "Latency turns up after 150 users" in text and "at 200 users delivery p99" in text
    for users, verdict in ((50, "holds"), (100, "holds"), (150, "holds"), (200, "breached")):
        assert re.search(rf" {users} \d+ [\d.]+ [\d.]+ {verdict} ", text), users


def test_progress_is_reported(soak_run: Path, tmp_path: Path) -> None:
    said: list[str] = []
    write_report(soak_run, tmp_path, progress=said.append)
    assert any(line.startswith("reading ") for line in said)
    assert said[-1].startswith("done in ")
