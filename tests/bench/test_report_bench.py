"""``chatload bench-report`` on a small soak: it measures, and fails a missed target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatload.cli import main


def test_the_report_is_timed_and_weighed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = ["--samples", "30000", "--hours", "0.1", "--interval", "2", "--workdir", str(tmp_path)]
    assert main(["bench-report", *small]) == 0
    out = capsys.readouterr().out
    found = re.search(r"PASS: report of 30,000 samples in ([\d.]+) s .* peak RSS ([\d,]+) MiB", out)
    assert found, out
    assert 0 < float(found[1]) < 60 and 30 < int(found[2].replace(",", "")) < 1024
    assert (tmp_path / "report" / "index.html").exists()
    # A target it cannot meet fails the benchmark.
    assert main(["bench-report", *small, "--max-seconds", "0.01"]) == 1
    assert "FAIL: report of 30,000 samples in" in capsys.readouterr().out
