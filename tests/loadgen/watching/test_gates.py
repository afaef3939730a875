"""SLO gates of a headless run: verdict lines, exit code, slo.csv and JUnit XML."""

from __future__ import annotations

import csv
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.loadgen.support import headless, run_locust


def _junit(path: Path) -> tuple[ET.Element, dict[str, bool]]:
    suite = ET.parse(path).getroot()
    cases = {case.get("name", ""): case.find("failure") is None for case in suite}
    return suite, cases


@pytest.mark.slow
def test_slos_that_hold_pass_the_run(tmp_path: Path) -> None:
    done = run_locust(
        *headless(10, "8s"),
        "--only-summary",
        "--csv",
        str(tmp_path / "run"),
        "--slo-junit",
        str(tmp_path / "slo.xml"),
        "--slo",
        "delivery p99 < 10s",
        "--slo",
        "invariant breaches == 0",
        "--slo",
        "all failure_ratio < 5%",
        "--slo",
        "send_ack rate > 0/s",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    passed = (
        "SLO PASS delivery p99 < 10s: ",
        "SLO PASS invariant breaches == 0: 0",
        "SLO PASS all failure_ratio < 5%: ",
        "SLO PASS send_ack rate > 0/s: ",
    )
    for line in passed:
        assert line in done.stderr, done.stderr[-3000:]
    suite, cases = _junit(tmp_path / "slo.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "0")
    assert all(cases.values()), cases
    with Path(f"{tmp_path / 'run'}_slo.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["passed"] for row in rows] == ["true"] * 4
    assert float(rows[0]["value"]) < 10_000


@pytest.mark.slow
def test_a_breached_slo_fails_the_run_with_a_readable_verdict(tmp_path: Path) -> None:
    done = run_locust(
        *headless(10, "8s"),
        "--only-summary",
        "--csv",
        str(tmp_path / "run"),
        "--slo-junit",
        str(tmp_path / "slo.xml"),
        "--slo",
        "delivery p99 < 1us",
        "--slo",
        "invariant breaches == 0",
    )
    assert done.returncode == 1, done.stderr[-3000:]
    failing = [line for line in done.stderr.splitlines() if line.startswith("SLO FAIL")]
    assert len(failing) == 1 and failing[0].startswith("SLO FAIL delivery p99 < 1us: "), failing
    assert failing[0].endswith(" ms")
    assert "SLO PASS invariant breaches == 0: 0" in done.stderr
    suite, cases = _junit(tmp_path / "slo.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    assert cases == {"delivery p99 < 1us": False, "invariant breaches == 0": True}
    # Nothing else failed: the exit code is the gate's.
    with Path(f"{tmp_path / 'run'}_stats.csv").open(newline="") as handle:
        aggregated = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    assert aggregated[0]["Failure Count"] == "0"


@pytest.mark.slow
def test_abort_ends_the_run_at_the_first_breach(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_locust(
        *headless(10, "90s"),
        "--only-summary",
        "--slo",
        "delivery p99 < 1us",
        "--slo-check-interval",
        "2",
        "--slo-abort",
    )
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Error: an SLO was breached during the run (--slo-abort)" in done.stderr
    assert "SLO FAIL delivery p99 < 1us: " in done.stderr
    assert took < 45, f"the run went on for {took:.0f} s"


def test_a_malformed_threshold_is_one_line_before_the_run() -> None:
    done = run_locust("--headless", "-u", "1", "-t", "5s", "--slo", "delivery p99 fast")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "is not '<metric> <statistic> <op> <value>[unit]'" in done.stderr
    assert "Traceback" not in done.stderr
