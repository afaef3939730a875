"""Reports of real runs, opened in a browser the way a person opens them.

The smoke scenario (shortened) and a small step run go against the embedded
reference server; ``chatload report`` turns their files into pages, and headless
Chromium loads each page from disk: every plot must be decoded and shown, and the
text a person reads must carry the verdicts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatload.analysis.report import write_report
from chatload.slo import parse_thresholds
from tests.analysis.browser import assert_every_image_shows, render
from tests.analysis.test_report import PLOTS
from tests.loadgen.support import METRICS, ROOT, run_locust


def _report(results: Path, out: Path, *options: str) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "chatload", "report", str(results), "-o", str(out), *options],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "reading " in done.stderr and "done in " in done.stderr  # progress shown
    page = Path(done.stdout.strip().splitlines()[-1])
    assert page == out / "index.html"
    return page


@pytest.mark.slow
def test_the_smoke_scenario_ends_in_a_report_a_person_can_read(tmp_path: Path) -> None:
    done = run_locust(
        "--config",
        "scenarios/smoke.conf",
        "-t",
        "15s",
        "--csv",
        str(tmp_path / "smoke"),
        "--slo-junit",
        str(tmp_path / "slo.xml"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SLO PASS delivery p99 < 250ms" in done.stderr
    page = _report(tmp_path / "smoke", tmp_path / "report")
    shown = render(page)
    assert shown.title == "chatload report: smoke"
    assert_every_image_shows(shown, {f"{name}.png" for name in PLOTS})
    for metric in METRICS:
        assert f"\n{metric}\t" in shown.text, metric
    assert "every SLO holds" in shown.text
    assert "delivery p99 < 250ms" in shown.text and "PASS" in shown.text
    assert "No breaches: every guarantee held." in shown.text
    assert shown.height > 3000  # the plots are laid out, not collapsed
    assert shown.screenshot.stat().st_size > 50_000


@pytest.mark.slow
@pytest.mark.serial
def test_a_step_run_yields_a_capacity_verdict_on_the_page(tmp_path: Path) -> None:
    done = run_locust(
        "--headless",
        "--only-summary",
        "--csv",
        str(tmp_path / "step"),
        "--shape",
        "StepShape",
        "--stages",
        '{"start": 4, "step": 4, "steps": 3, "hold": 10, "spawn_rate": 20}',
        "--think-min",
        "0.2",
        "--think-max",
        "0.5",
        "--slo",
        "delivery p99 < 250ms",
        # Several whole reporting intervals in each step's 10 s.
        "--chat-interval",
        "1",
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    page = _report(tmp_path / "step", tmp_path / "report", "--step-hold", "7", "--step-settle", "2")
    shown = render(page)
    assert_every_image_shows(shown, {f"{name}.png" for name in (*PLOTS, "capacity")})
    assert "Capacity verdict" in shown.text
    assert "Every SLO holds up to 12 users" in shown.text, shown.text[:3000]
    for users in (4, 8, 12):
        assert f"\n{users}\t" in shown.text, users


def test_a_made_up_soak_renders_with_its_trouble_shown(soak_run: Path, tmp_path: Path) -> None:
    page = write_report(soak_run, tmp_path, thresholds=parse_thresholds(["delivery p99 < 1ms"]))
    shown = render(page)
    assert_every_image_shows(shown, {f"{name}.png" for name in PLOTS})
    assert "1 SLO(s) breached" in shown.text and "3 breach(es) of the guarantees" in shown.text
    assert "latencies measured then are the generator's, not the server's" in shown.text
